//! Page cursors: opaque positions that stay valid when the row they stop at is deleted.

use study_mode_api::domain::ports::ThreadStore;
use study_mode_api::domain::thread::Order;

use super::{assert_not_found, page, thread, user_msg};

fn ids<T>(data: &[T], id_of: impl Fn(&T) -> &str) -> Vec<String> {
    data.iter().map(|row| id_of(row).to_owned()).collect()
}

async fn a_thread_cursor_survives_the_deletion_of_its_thread(store: &dyn ThreadStore) {
    for (id, created) in [("thr_c1", 0), ("thr_c2", 10), ("thr_c3", 20)] {
        store
            .create_thread(&thread("alice", id, created))
            .await
            .expect("created");
    }
    let first = store
        .list_threads("alice", &page(2, None, Order::Desc))
        .await
        .expect("page 1");
    assert_eq!(ids(&first.data, |t| &t.id), ["thr_c3", "thr_c2"]);
    let cursor = first.after.expect("a cursor");
    store
        .delete_thread("alice", "thr_c2")
        .await
        .expect("deleted");

    let second = store
        .list_threads("alice", &page(2, Some(&cursor), Order::Desc))
        .await
        .expect("page 2 after a deleted thread");

    assert_eq!(ids(&second.data, |t| &t.id), ["thr_c1"]);
    assert!(!second.has_more);
    assert_not_found(
        store
            .list_threads("alice", &page(2, Some("thr_c2"), Order::Desc))
            .await,
        "the older id form of a deleted thread",
    );
    let foreign = store
        .list_threads("bob", &page(2, Some(&cursor), Order::Desc))
        .await
        .expect("a cursor is only a position");
    assert!(foreign.data.is_empty(), "it shows nothing of alice's");
}

async fn an_item_cursor_survives_the_deletion_of_its_item(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    for (n, id) in ["msg_1", "msg_2", "msg_3"].iter().enumerate() {
        let created = i64::try_from(n).unwrap() + 1;
        store
            .add_item("alice", &user_msg("thr_1", id, created, "q"))
            .await
            .expect("added");
    }
    let first = store
        .list_items("alice", "thr_1", &page(2, None, Order::Asc))
        .await
        .expect("page 1");
    assert_eq!(ids(&first.data, |i| &i.id), ["msg_1", "msg_2"]);
    let cursor = first.after.expect("a cursor");
    let deleted = store
        .delete_items_after("alice", "thr_1", "msg_1")
        .await
        .expect("deleted");
    assert_eq!(deleted, 2);
    store
        .add_item("alice", &user_msg("thr_1", "msg_4", 4, "again"))
        .await
        .expect("added");

    let second = store
        .list_items("alice", "thr_1", &page(2, Some(&cursor), Order::Asc))
        .await
        .expect("page 2 after a deleted item");

    assert_eq!(ids(&second.data, |i| &i.id), ["msg_4"]);
    assert_not_found(
        store
            .list_items("alice", "thr_1", &page(2, Some("msg_2"), Order::Asc))
            .await,
        "the older id form of a deleted item",
    );
}

contract!(
    a_thread_cursor_survives_the_deletion_of_its_thread,
    an_item_cursor_survives_the_deletion_of_its_item,
);
