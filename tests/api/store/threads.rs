//! Threads: creation, loading, pages, saving, deletion, and isolation between users.

use serde_json::json;
use study_mode_api::domain::ports::{StoreError, ThreadStore, TurnCommit};
use study_mode_api::domain::teach::StudyState;
use study_mode_api::domain::thread::{FeedbackKind, Order, ThreadStatus};

use super::{Fixture, assert_not_found, assistant, at, page, thread, user_msg, walk_threads};

async fn create_then_get_returns_every_field(store: &dyn ThreadStore) {
    let mut full = thread("alice", "thr_full", 0);
    full.title = Some("Variables « et » types".to_owned());
    full.status = ThreadStatus::Locked {
        reason: Some("quota reached".to_owned()),
    };
    full.metadata = json!({ "lesson": "a/b", "nested": { "list": [1, 2.5, null, "x"] } });
    let mut bare = thread("alice", "thr_bare", 1);
    bare.organization_id = None;
    bare.status = ThreadStatus::Closed { reason: None };
    bare.metadata = json!({});

    for t in [&full, &bare] {
        store.create_thread(t).await.expect("thread is created");
        let loaded = store
            .get_thread("alice", &t.id)
            .await
            .expect("thread loads");
        assert_eq!(&loaded, t, "every field round-trips");
    }
    let loaded = store.get_thread("alice", "thr_full").await.expect("loads");
    assert_eq!(
        loaded.created_at.timestamp_subsec_micros(),
        full.created_at.timestamp_subsec_micros(),
        "microseconds are kept"
    );
}

async fn creating_a_thread_with_an_existing_id_is_a_conflict(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("first creation succeeds");
    for owner in ["alice", "bob"] {
        let again = store.create_thread(&thread(owner, "thr_1", 5)).await;
        assert!(
            matches!(again, Err(StoreError::Conflict)),
            "{owner}: {again:?}"
        );
    }
    let kept = store.get_thread("alice", "thr_1").await.expect("loads");
    assert_eq!(kept.created_at, at(0), "the original is untouched");
}

async fn getting_a_missing_thread_is_not_found(store: &dyn ThreadStore) {
    assert_not_found(store.get_thread("alice", "thr_nope").await, "get");
    assert_not_found(store.delete_thread("alice", "thr_nope").await, "delete");
    assert_not_found(
        store.save_thread(&thread("alice", "thr_nope", 0)).await,
        "save",
    );
}

async fn saving_a_thread_updates_title_status_and_metadata_only(store: &dyn ThreadStore) {
    let original = thread("alice", "thr_1", 0);
    store.create_thread(&original).await.expect("created");
    let mut changed = original.clone();
    changed.title = Some("Loops".to_owned());
    changed.status = ThreadStatus::Closed {
        reason: Some("lesson finished".to_owned()),
    };
    changed.metadata = json!({ "mode": "ask" });
    changed.created_at = at(999);
    changed.organization_id = Some("org_other".to_owned());
    store.save_thread(&changed).await.expect("saved");

    let loaded = store.get_thread("alice", "thr_1").await.expect("loads");
    assert_eq!(loaded.title, changed.title);
    assert_eq!(loaded.status, changed.status);
    assert_eq!(loaded.metadata, changed.metadata);
    assert_eq!(loaded.created_at, original.created_at, "position is kept");
    assert_eq!(loaded.organization_id, original.organization_id);

    changed.title = None;
    store.save_thread(&changed).await.expect("saved again");
    let loaded = store.get_thread("alice", "thr_1").await.expect("loads");
    assert_eq!(loaded.title, None, "a title can be cleared");
}

async fn another_user_sees_nothing_of_a_thread(store: &dyn ThreadStore) {
    let mut mine = thread("alice", "thr_a", 0);
    mine.title = Some("Mine".to_owned());
    store.create_thread(&mine).await.expect("created");
    store
        .add_item("alice", &user_msg("thr_a", "msg_1", 1, "hello"))
        .await
        .expect("item added");
    let turn = TurnCommit {
        thread_id: "thr_a".to_owned(),
        items: vec![assistant("thr_a", "msg_2", 2, "hi")],
        state: Some(StudyState::default()),
        title: None,
        usage: None,
    };
    store.commit_turn("alice", &turn).await.expect("committed");

    let bob = "bob";
    assert_not_found(store.get_thread(bob, "thr_a").await, "get_thread");
    let mut stolen = mine.clone();
    stolen.user_id = bob.to_owned();
    stolen.title = Some("Stolen".to_owned());
    assert_not_found(store.save_thread(&stolen).await, "save_thread");
    let intruder = user_msg("thr_a", "msg_3", 3, "x");
    assert_not_found(store.add_item(bob, &intruder).await, "add_item");
    let overwrite = user_msg("thr_a", "msg_1", 1, "overwritten");
    assert_not_found(store.add_item(bob, &overwrite).await, "add_item over");
    assert_not_found(store.get_item(bob, "thr_a", "msg_1").await, "get_item");
    let first = page(10, None, Order::Asc);
    assert_not_found(store.list_items(bob, "thr_a", &first).await, "list_items");
    assert_not_found(
        store.delete_items_after(bob, "thr_a", "msg_1").await,
        "delete_items_after",
    );
    assert_not_found(
        store.load_study_state(bob, "thr_a").await,
        "load_study_state",
    );
    let hijack = TurnCommit {
        title: Some("Hijacked".to_owned()),
        items: vec![assistant("thr_a", "msg_9", 9, "x")],
        ..turn.clone()
    };
    assert_not_found(store.commit_turn(bob, &hijack).await, "commit_turn");
    let rated = ["msg_2".to_owned()];
    assert_not_found(
        store
            .add_feedback(bob, "thr_a", &rated, FeedbackKind::Negative)
            .await,
        "add_feedback",
    );
    assert_not_found(store.delete_thread(bob, "thr_a").await, "delete_thread");
    let listed = store.list_threads(bob, &first).await.expect("bob's list");
    assert!(listed.data.is_empty(), "bob lists none of alice's threads");
    assert_not_found(
        store
            .list_threads(bob, &page(10, Some("thr_a"), Order::Asc))
            .await,
        "list_threads after alice's thread",
    );

    // Alice still has everything, unchanged.
    let kept = store.get_thread("alice", "thr_a").await.expect("kept");
    assert_eq!(kept.title.as_deref(), Some("Mine"));
    assert_eq!(
        super::walk_items(store, "alice", "thr_a", 10, Order::Asc).await,
        ["msg_1", "msg_2"]
    );
    let item = store
        .get_item("alice", "thr_a", "msg_1")
        .await
        .expect("item");
    assert_eq!(item, user_msg("thr_a", "msg_1", 1, "hello"));
    assert!(
        store
            .load_study_state("alice", "thr_a")
            .await
            .expect("state")
            .is_some()
    );
}

async fn thread_pages_serve_every_thread_once_in_both_orders(store: &dyn ThreadStore) {
    // Several threads share an instant (same microsecond): the id breaks the tie.
    let layout = [
        ("thr_07", 30),
        ("thr_03", 10),
        ("thr_05", 10),
        ("thr_01", 10),
        ("thr_09", 0),
        ("thr_02", 20),
        ("thr_04", 20),
    ];
    for (n, (id, created)) in layout.iter().enumerate() {
        store
            .create_thread(&thread("alice", id, *created))
            .await
            .expect("created");
        // Another user's threads interleave and must never show up.
        let other = format!("thr_b{n}");
        store
            .create_thread(&thread("bob", &other, *created))
            .await
            .expect("created");
    }
    let asc = [
        "thr_09", "thr_01", "thr_03", "thr_05", "thr_02", "thr_04", "thr_07",
    ];
    let desc: Vec<&str> = asc.iter().rev().copied().collect();
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(
            walk_threads(store, "alice", limit, Order::Asc).await,
            asc,
            "asc by {limit}"
        );
        assert_eq!(
            walk_threads(store, "alice", limit, Order::Desc).await,
            desc,
            "desc by {limit}"
        );
    }
    let mid = store
        .list_threads("alice", &page(2, Some("thr_03"), Order::Asc))
        .await
        .expect("page");
    let ids: Vec<&str> = mid.data.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        ["thr_05", "thr_02"],
        "starts strictly after the cursor"
    );
    assert!(mid.has_more);
}

async fn an_unknown_thread_cursor_is_not_found(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("bob", "thr_b", 0))
        .await
        .expect("created");
    for after in ["thr_missing", "thr_b"] {
        let result = store
            .list_threads("alice", &page(10, Some(after), Order::Desc))
            .await;
        assert_not_found(result, after);
    }
}

async fn an_empty_list_has_no_more(store: &dyn ThreadStore) {
    let p = store
        .list_threads("nobody", &page(10, None, Order::Desc))
        .await
        .expect("empty page");
    assert!(p.data.is_empty());
    assert!(!p.has_more);
    assert_eq!(p.after, None);
}

async fn deleting_a_thread_removes_its_items_state_and_feedback(fx: &Fixture) {
    let store: &dyn ThreadStore = &fx.store;
    for id in ["thr_gone", "thr_kept"] {
        store
            .create_thread(&thread("alice", id, 0))
            .await
            .expect("created");
        let turn = TurnCommit {
            thread_id: id.to_owned(),
            items: vec![
                user_msg(id, &format!("{id}_u"), 1, "q"),
                assistant(id, &format!("{id}_a"), 2, "a"),
            ],
            state: Some(StudyState::default()),
            title: None,
            usage: None,
        };
        store.commit_turn("alice", &turn).await.expect("committed");
        let rated = [format!("{id}_a")];
        store
            .add_feedback("alice", id, &rated, FeedbackKind::Positive)
            .await
            .expect("rated");
    }

    store
        .delete_thread("alice", "thr_gone")
        .await
        .expect("deleted");

    assert_not_found(store.get_thread("alice", "thr_gone").await, "thread");
    assert_not_found(
        store.get_item("alice", "thr_gone", "thr_gone_a").await,
        "item",
    );
    assert_not_found(store.load_study_state("alice", "thr_gone").await, "state");
    assert_not_found(
        store.delete_thread("alice", "thr_gone").await,
        "second delete",
    );
    for table in ["thread_items", "study_states", "item_feedback"] {
        let left = fx
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE thread_id = 'thr_gone'"
            ))
            .await;
        assert_eq!(left, 0, "{table} rows of the deleted thread are gone");
        let kept = fx
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE thread_id = 'thr_kept'"
            ))
            .await;
        assert!(kept > 0, "{table} rows of the other thread stay");
    }
    // The id is free again, and the new thread starts empty.
    store
        .create_thread(&thread("alice", "thr_gone", 5))
        .await
        .expect("re-created");
    assert!(walk_threads(store, "alice", 10, Order::Asc).await.len() == 2);
    assert!(
        super::walk_items(store, "alice", "thr_gone", 10, Order::Asc)
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .load_study_state("alice", "thr_gone")
            .await
            .expect("state"),
        None
    );
}

async fn a_thread_created_with_its_first_item_has_both(store: &dyn ThreadStore) {
    // Arrange
    let t = thread("alice", "thr_1", 0);
    // Act
    store
        .create_thread_with_item(&t, &user_msg("thr_1", "msg_1", 1, "Hello"))
        .await
        .expect("created");
    // Assert
    assert_eq!(store.get_thread("alice", "thr_1").await.expect("thread"), t);
    let item = store
        .get_item("alice", "thr_1", "msg_1")
        .await
        .expect("item");
    assert_eq!(item, user_msg("thr_1", "msg_1", 1, "Hello"));
    assert_eq!(store.count_threads("alice").await.expect("count"), 1);
}

async fn a_thread_whose_first_item_cannot_be_stored_is_not_created(store: &dyn ThreadStore) {
    // Arrange: the item id belongs to an item of another thread already.
    store
        .create_thread_with_item(
            &thread("alice", "thr_1", 0),
            &user_msg("thr_1", "msg_1", 1, "Hello"),
        )
        .await
        .expect("created");
    // Act
    let taken = store
        .create_thread_with_item(
            &thread("alice", "thr_2", 2),
            &user_msg("thr_2", "msg_1", 3, "Again"),
        )
        .await;
    let duplicate = store
        .create_thread_with_item(
            &thread("alice", "thr_1", 4),
            &user_msg("thr_1", "msg_9", 5, "Twice"),
        )
        .await;
    // Assert
    assert_not_found(taken, "an item id of another thread");
    assert!(
        matches!(duplicate, Err(StoreError::Conflict)),
        "{duplicate:?}"
    );
    assert_not_found(store.get_thread("alice", "thr_2").await, "no thread left");
    assert_not_found(
        store.get_item("alice", "thr_1", "msg_9").await,
        "no item of the refused duplicate",
    );
    assert_eq!(
        walk_threads(store, "alice", 10, Order::Asc).await,
        ["thr_1"]
    );
}

contract!(
    a_thread_created_with_its_first_item_has_both,
    a_thread_whose_first_item_cannot_be_stored_is_not_created,
    create_then_get_returns_every_field,
    creating_a_thread_with_an_existing_id_is_a_conflict,
    getting_a_missing_thread_is_not_found,
    saving_a_thread_updates_title_status_and_metadata_only,
    another_user_sees_nothing_of_a_thread,
    thread_pages_serve_every_thread_once_in_both_orders,
    an_unknown_thread_cursor_is_not_found,
    an_empty_list_has_no_more,
);
sql_contract!(deleting_a_thread_removes_its_items_state_and_feedback);
