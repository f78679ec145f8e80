//! Turns, study state and feedback: atomic commits, usage, organisation and ratings.

use study_mode_api::domain::ports::{ThreadStore, TurnCommit};
use study_mode_api::domain::teach::{Choice, PendingQuestion, StudyState};
use study_mode_api::domain::thread::{FeedbackKind, Order, Usage};

use super::{Fixture, assert_not_found, assistant, hidden, thread, user_msg, walk_items};

fn state(chunk_index: u32, correct: Choice) -> StudyState {
    StudyState {
        chunk_index,
        attempts: 2,
        pending: Some(PendingQuestion {
            chunk_index,
            correct,
        }),
        completed: false,
        turns: 7,
        previous: Some(Box::new(StudyState::default())),
        answered_item: Some("msg_answered".into()),
        unchecked: 1,
        ..StudyState::default()
    }
}

fn turn(thread_id: &str, items: Vec<study_mode_api::domain::thread::ThreadItem>) -> TurnCommit {
    TurnCommit {
        thread_id: thread_id.to_owned(),
        items,
        state: None,
        title: None,
        usage: None,
    }
}

async fn commit_turn_writes_items_state_and_title_together(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .add_item("alice", &user_msg("thr_1", "msg_1", 1, "start"))
        .await
        .expect("added");
    let first = TurnCommit {
        state: Some(state(0, Choice::A)),
        title: Some("Variables".to_owned()),
        usage: Some(Usage {
            input_tokens: 120,
            output_tokens: 80,
        }),
        ..turn(
            "thr_1",
            vec![
                hidden("thr_1", "shcx_1", 2),
                assistant("thr_1", "msg_2", 3, "Hi"),
            ],
        )
    };
    store.commit_turn("alice", &first).await.expect("committed");

    let t = store.get_thread("alice", "thr_1").await.expect("thread");
    assert_eq!(t.title.as_deref(), Some("Variables"));
    let all = walk_items(store, "alice", "thr_1", 10, Order::Asc).await;
    assert_eq!(all, ["msg_1", "shcx_1", "msg_2"]);
    let loaded = store
        .load_study_state("alice", "thr_1")
        .await
        .expect("state");
    assert_eq!(loaded, Some(state(0, Choice::A)));

    // A later turn without title or state leaves them alone and replaces items in place.
    let second = turn(
        "thr_1",
        vec![assistant("thr_1", "msg_2", 99, "Hello again")],
    );
    store
        .commit_turn("alice", &second)
        .await
        .expect("committed");
    let t = store.get_thread("alice", "thr_1").await.expect("thread");
    assert_eq!(t.title.as_deref(), Some("Variables"), "title kept");
    let loaded = store
        .load_study_state("alice", "thr_1")
        .await
        .expect("state");
    assert_eq!(loaded, Some(state(0, Choice::A)), "state kept");
    let msg = store
        .get_item("alice", "thr_1", "msg_2")
        .await
        .expect("item");
    assert_eq!(msg, assistant("thr_1", "msg_2", 3, "Hello again"));
}

async fn study_state_is_none_before_the_first_turn_then_round_trips(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    assert_eq!(
        store
            .load_study_state("alice", "thr_1")
            .await
            .expect("state"),
        None
    );
    assert_not_found(
        store.load_study_state("alice", "thr_none").await,
        "no thread",
    );
    for next in [
        state(0, Choice::B),
        state(3, Choice::A),
        StudyState {
            completed: true,
            ..StudyState::default()
        },
    ] {
        let commit = TurnCommit {
            state: Some(next.clone()),
            ..turn("thr_1", vec![])
        };
        store
            .commit_turn("alice", &commit)
            .await
            .expect("committed");
        let loaded = store
            .load_study_state("alice", "thr_1")
            .await
            .expect("state");
        assert_eq!(loaded, Some(next), "the latest state is served");
    }
}

async fn commit_turn_on_a_deleted_thread_writes_nothing(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .delete_thread("alice", "thr_1")
        .await
        .expect("deleted");
    let late = TurnCommit {
        state: Some(state(1, Choice::B)),
        title: Some("Too late".to_owned()),
        ..turn("thr_1", vec![assistant("thr_1", "msg_1", 1, "answer")])
    };
    assert_not_found(store.commit_turn("alice", &late).await, "commit");

    // Re-created under the same id, the thread shows no trace of the late turn.
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("re-created");
    let t = store.get_thread("alice", "thr_1").await.expect("thread");
    assert_eq!(t.title, None);
    assert!(
        walk_items(store, "alice", "thr_1", 10, Order::Asc)
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .load_study_state("alice", "thr_1")
            .await
            .expect("state"),
        None
    );
}

async fn a_failing_commit_turn_rolls_back_everything(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    store
        .add_item("alice", &user_msg("thr_2", "msg_taken", 1, "x"))
        .await
        .expect("added");
    // The second item's id belongs to another thread: the whole turn must fail.
    let doomed = TurnCommit {
        state: Some(state(2, Choice::A)),
        title: Some("Never".to_owned()),
        ..turn(
            "thr_1",
            vec![
                assistant("thr_1", "msg_new", 2, "a"),
                user_msg("thr_1", "msg_taken", 3, "b"),
            ],
        )
    };
    assert_not_found(store.commit_turn("alice", &doomed).await, "commit");

    let t = store.get_thread("alice", "thr_1").await.expect("thread");
    assert_eq!(t.title, None, "title rolled back");
    assert_not_found(
        store.get_item("alice", "thr_1", "msg_new").await,
        "first item",
    );
    assert_eq!(
        store
            .load_study_state("alice", "thr_1")
            .await
            .expect("state"),
        None
    );
    let taken = store
        .get_item("alice", "thr_2", "msg_taken")
        .await
        .expect("kept");
    assert_eq!(taken, user_msg("thr_2", "msg_taken", 1, "x"));
}

async fn feedback_on_a_missing_item_is_not_found(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    store
        .add_item("alice", &assistant("thr_1", "msg_1", 1, "a"))
        .await
        .expect("added");
    store
        .add_item("alice", &assistant("thr_2", "msg_2", 1, "b"))
        .await
        .expect("added");
    let positive = FeedbackKind::Positive;
    for ids in [vec!["msg_1", "msg_missing"], vec!["msg_1", "msg_2"]] {
        let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
        let result = store.add_feedback("alice", "thr_1", &ids, positive).await;
        assert_not_found(result, &format!("{ids:?}"));
    }
    let ids = ["msg_1".to_owned()];
    assert_not_found(
        store
            .add_feedback("alice", "thr_none", &ids, positive)
            .await,
        "thread",
    );
    let twice = ["msg_1".to_owned(), "msg_1".to_owned()];
    store
        .add_feedback("alice", "thr_1", &twice, positive)
        .await
        .expect("a repeated id is fine");
}

async fn a_new_rating_replaces_the_old_one(fx: &Fixture) {
    let store: &dyn ThreadStore = &fx.store;
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .add_item("alice", &assistant("thr_1", "msg_1", 1, "a"))
        .await
        .expect("added");
    store
        .add_item("alice", &assistant("thr_1", "msg_2", 2, "b"))
        .await
        .expect("added");
    let both = ["msg_1".to_owned(), "msg_2".to_owned()];
    store
        .add_feedback("alice", "thr_1", &both, FeedbackKind::Positive)
        .await
        .expect("rated");
    let one = ["msg_2".to_owned()];
    store
        .add_feedback("alice", "thr_1", &one, FeedbackKind::Negative)
        .await
        .expect("re-rated");

    let kinds = fx
        .texts("SELECT kind FROM item_feedback WHERE user_id = 'alice' ORDER BY item_id")
        .await;
    assert_eq!(
        kinds,
        [Some("positive".to_owned()), Some("negative".to_owned())],
        "one row per item, the latest rating"
    );
}

async fn commit_turn_records_usage_on_the_assistant_item(fx: &Fixture) {
    let store: &dyn ThreadStore = &fx.store;
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    let commit = TurnCommit {
        usage: Some(Usage {
            input_tokens: 1200,
            output_tokens: 345,
        }),
        ..turn(
            "thr_1",
            vec![
                hidden("thr_1", "shcx_1", 1),
                assistant("thr_1", "msg_1", 2, "a"),
            ],
        )
    };
    store
        .commit_turn("alice", &commit)
        .await
        .expect("committed");

    let tokens = |col: &str, id: &str| {
        format!("SELECT COALESCE(MAX({col}), -1) FROM thread_items WHERE id = '{id}'")
    };
    assert_eq!(fx.scalar(&tokens("input_tokens", "msg_1")).await, 1200);
    assert_eq!(fx.scalar(&tokens("output_tokens", "msg_1")).await, 345);
    assert_eq!(
        fx.scalar(&tokens("input_tokens", "shcx_1")).await,
        -1,
        "not on context"
    );

    // Re-adding the item (e.g. a retry) keeps the usage already recorded.
    store
        .add_item("alice", &assistant("thr_1", "msg_1", 2, "a2"))
        .await
        .expect("added");
    assert_eq!(fx.scalar(&tokens("output_tokens", "msg_1")).await, 345);
}

async fn every_row_of_a_thread_records_its_organisation(fx: &Fixture) {
    let store: &dyn ThreadStore = &fx.store;
    let mut t = thread("alice", "thr_1", 0);
    t.organization_id = Some("org_acme".to_owned());
    store.create_thread(&t).await.expect("created");
    store
        .add_item("alice", &user_msg("thr_1", "msg_1", 1, "q"))
        .await
        .expect("added");
    let commit = TurnCommit {
        state: Some(StudyState::default()),
        ..turn("thr_1", vec![assistant("thr_1", "msg_2", 2, "a")])
    };
    store
        .commit_turn("alice", &commit)
        .await
        .expect("committed");
    let ids = ["msg_2".to_owned()];
    store
        .add_feedback("alice", "thr_1", &ids, FeedbackKind::Positive)
        .await
        .expect("rated");

    let orgs = fx
        .texts(
            "SELECT organization_id FROM threads \
             UNION ALL SELECT organization_id FROM thread_items \
             UNION ALL SELECT organization_id FROM study_states \
             UNION ALL SELECT organization_id FROM item_feedback",
        )
        .await;
    assert_eq!(orgs.len(), 5, "thread, two items, state, rating");
    assert!(
        orgs.iter().all(|o| o.as_deref() == Some("org_acme")),
        "{orgs:?}"
    );
}

contract!(
    commit_turn_writes_items_state_and_title_together,
    study_state_is_none_before_the_first_turn_then_round_trips,
    commit_turn_on_a_deleted_thread_writes_nothing,
    a_failing_commit_turn_rolls_back_everything,
    feedback_on_a_missing_item_is_not_found,
);
sql_contract!(
    a_new_rating_replaces_the_old_one,
    commit_turn_records_usage_on_the_assistant_item,
    every_row_of_a_thread_records_its_organisation,
);

async fn concurrent_turns_on_one_thread_all_land(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    let turns: Vec<TurnCommit> = (0..12)
        .map(|n| TurnCommit {
            state: Some(state(n, Choice::A)),
            ..turn(
                "thr_1",
                vec![assistant(
                    "thr_1",
                    &format!("msg_{n:02}"),
                    i64::from(n),
                    "a",
                )],
            )
        })
        .collect();
    let results =
        futures::future::join_all(turns.iter().map(|t| store.commit_turn("alice", t))).await;
    for result in results {
        result.expect("every concurrent turn commits");
    }
    let items = walk_items(store, "alice", "thr_1", 100, Order::Asc).await;
    assert_eq!(items.len(), 12);
    assert!(
        store
            .load_study_state("alice", "thr_1")
            .await
            .expect("state")
            .is_some()
    );
}

contract!(concurrent_turns_on_one_thread_all_land);
