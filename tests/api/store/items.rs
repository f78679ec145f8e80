//! Items: round trips of every kind, pages, upserts in place, truncation.

use serde_json::json;
use study_mode_api::domain::ports::ThreadStore;
use study_mode_api::domain::thread::{
    Citation, InferenceOptions, ItemKind, Order, ThreadItem, ToolChoice, UserContent,
};

use super::{assert_not_found, assistant, at, hidden, page, thread, user_msg, walk_items};

async fn items_of_every_kind_round_trip(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    let rich = ThreadItem {
        id: "msg_rich".to_owned(),
        thread_id: "thr_1".to_owned(),
        created_at: at(1),
        kind: ItemKind::UserMessage {
            content: vec![
                UserContent::InputText {
                    text: "  spaces kept \n".to_owned(),
                },
                UserContent::InputTag {
                    id: "tag_1".to_owned(),
                    text: "Chapter 2".to_owned(),
                    data: json!({ "path": "part-1/chapter-2" }),
                    group: Some("lessons".to_owned()),
                    interactive: true,
                },
            ],
            quoted_text: Some("a quote".to_owned()),
            inference_options: InferenceOptions {
                tool_choice: Some(ToolChoice {
                    id: "teach".to_owned(),
                }),
                model: Some("teach".to_owned()),
            },
            hidden: false,
        },
    };
    let mut trigger = user_msg("thr_1", "msg_start", 2, "\u{200b}");
    if let ItemKind::UserMessage { hidden, .. } = &mut trigger.kind {
        *hidden = true;
    }
    let interrupted = ThreadItem {
        kind: ItemKind::AssistantMessage {
            text: "half an ans".to_owned(),
            interrupted: true,
            citations: Vec::new(),
        },
        ..assistant("thr_1", "msg_cut", 3, "")
    };
    let cited = ThreadItem {
        kind: ItemKind::AssistantMessage {
            text: "Agents loop.".to_owned(),
            interrupted: false,
            citations: vec![
                Citation {
                    path: "01-Part/02-loop".to_owned(),
                    lesson_title: "The Loop".to_owned(),
                    section_index: 1,
                    section_title: "Limits".to_owned(),
                    index: Some(11),
                },
                Citation {
                    path: "01-Part/01-intro".to_owned(),
                    lesson_title: "Intro".to_owned(),
                    section_index: 0,
                    section_title: "Goals".to_owned(),
                    index: None,
                },
            ],
        },
        ..assistant("thr_1", "msg_cited", 5, "")
    };
    let context = hidden("thr_1", "shcx_1", 4);
    for item in [&rich, &trigger, &interrupted, &context, &cited] {
        store.add_item("alice", item).await.expect("added");
        let loaded = store
            .get_item("alice", "thr_1", &item.id)
            .await
            .expect("loads");
        assert_eq!(&loaded, item);
    }
}

async fn item_pages_serve_every_item_once_including_hidden_ones(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    let items = [
        user_msg("thr_1", "msg_05", 10, "a"),
        assistant("thr_1", "msg_02", 10, "b"),
        hidden("thr_1", "shcx_01", 10),
        user_msg("thr_1", "msg_01", 0, "c"),
        assistant("thr_1", "msg_09", 20, "d"),
        user_msg("thr_1", "msg_03", 15, "e"),
    ];
    for (n, item) in items.iter().enumerate() {
        store.add_item("alice", item).await.expect("added");
        // Items of another thread interleave and must never show up.
        let other = user_msg("thr_2", &format!("msg_other_{n}"), 10, "x");
        store.add_item("alice", &other).await.expect("added");
    }
    let asc = ["msg_01", "msg_02", "msg_05", "shcx_01", "msg_03", "msg_09"];
    let desc: Vec<&str> = asc.iter().rev().copied().collect();
    for limit in [1, 2, 3, 4, 6, 100] {
        let up = walk_items(store, "alice", "thr_1", limit, Order::Asc).await;
        assert_eq!(up, asc, "asc by {limit}");
        let down = walk_items(store, "alice", "thr_1", limit, Order::Desc).await;
        assert_eq!(down, desc, "desc by {limit}");
    }
}

async fn an_unknown_item_cursor_is_not_found(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    store
        .add_item("alice", &user_msg("thr_1", "msg_1", 1, "a"))
        .await
        .expect("added");
    store
        .add_item("alice", &user_msg("thr_2", "msg_2", 1, "b"))
        .await
        .expect("added");
    for after in ["msg_missing", "msg_2"] {
        let result = store
            .list_items("alice", "thr_1", &page(10, Some(after), Order::Asc))
            .await;
        assert_not_found(result, after);
    }
}

async fn items_of_a_missing_thread_are_not_found(store: &dyn ThreadStore) {
    let first = page(10, None, Order::Asc);
    assert_not_found(store.list_items("alice", "thr_none", &first).await, "list");
    let item = user_msg("thr_none", "msg_1", 1, "a");
    assert_not_found(store.add_item("alice", &item).await, "add");
    assert_not_found(store.get_item("alice", "thr_none", "msg_1").await, "get");
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    assert_not_found(
        store.get_item("alice", "thr_1", "msg_1").await,
        "missing item",
    );
}

async fn replacing_an_item_keeps_its_position(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    for item in [
        user_msg("thr_1", "msg_1", 1, "first"),
        assistant("thr_1", "msg_2", 2, "draft"),
        user_msg("thr_1", "msg_3", 3, "third"),
    ] {
        store.add_item("alice", &item).await.expect("added");
    }
    let replacement = assistant("thr_1", "msg_2", 50, "final answer");
    store
        .add_item("alice", &replacement)
        .await
        .expect("replaced");
    store
        .add_item("alice", &replacement)
        .await
        .expect("idempotent");

    let loaded = store
        .get_item("alice", "thr_1", "msg_2")
        .await
        .expect("loads");
    assert_eq!(loaded.kind, replacement.kind, "content is replaced");
    assert_eq!(loaded.created_at, at(2), "creation instant is kept");
    let order = walk_items(store, "alice", "thr_1", 10, Order::Asc).await;
    assert_eq!(order, ["msg_1", "msg_2", "msg_3"], "position is kept");
}

async fn an_item_id_of_another_thread_is_refused(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    let original = user_msg("thr_1", "msg_1", 1, "original");
    store.add_item("alice", &original).await.expect("added");

    let moved = user_msg("thr_2", "msg_1", 2, "moved");
    assert_not_found(store.add_item("alice", &moved).await, "add into thr_2");

    let kept = store
        .get_item("alice", "thr_1", "msg_1")
        .await
        .expect("kept");
    assert_eq!(kept, original);
    assert_not_found(
        store.get_item("alice", "thr_2", "msg_1").await,
        "not in thr_2",
    );
}

async fn delete_items_after_removes_only_later_items(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    for item in [
        user_msg("thr_1", "msg_1", 1, "a"),
        assistant("thr_1", "msg_2", 2, "b"),
        hidden("thr_1", "msg_3", 2),
        user_msg("thr_1", "msg_4", 2, "c"),
        assistant("thr_1", "msg_5", 3, "d"),
        user_msg("thr_2", "msg_6", 9, "other thread"),
    ] {
        store.add_item("alice", &item).await.expect("added");
    }

    let removed = store
        .delete_items_after("alice", "thr_1", "msg_3")
        .await
        .expect("deleted");
    assert_eq!(removed, 2, "msg_4 (same instant, later id) and msg_5");
    let left = walk_items(store, "alice", "thr_1", 10, Order::Asc).await;
    assert_eq!(left, ["msg_1", "msg_2", "msg_3"]);
    assert_eq!(
        walk_items(store, "alice", "thr_2", 10, Order::Asc).await,
        ["msg_6"]
    );

    let none = store
        .delete_items_after("alice", "thr_1", "msg_3")
        .await
        .expect("no-op");
    assert_eq!(none, 0, "nothing after the last item");
    assert_not_found(
        store.delete_items_after("alice", "thr_1", "msg_5").await,
        "a deleted item",
    );
    assert_not_found(
        store.delete_items_after("alice", "thr_1", "msg_6").await,
        "an item of another thread",
    );
}

contract!(
    items_of_every_kind_round_trip,
    item_pages_serve_every_item_once_including_hidden_ones,
    an_unknown_item_cursor_is_not_found,
    items_of_a_missing_thread_are_not_found,
    replacing_an_item_keeps_its_position,
    an_item_id_of_another_thread_is_refused,
    delete_items_after_removes_only_later_items,
);
