//! The counts the storage caps are checked against: per user, per thread, hidden items included.

use study_mode_api::domain::ports::ThreadStore;

use super::{assistant, hidden, thread, user_msg};

async fn thread_counts_are_per_user_and_follow_creates_and_deletes(store: &dyn ThreadStore) {
    assert_eq!(store.count_threads("alice").await.unwrap(), 0);
    for (owner, id) in [("alice", "thr_1"), ("alice", "thr_2"), ("bob", "thr_3")] {
        store
            .create_thread(&thread(owner, id, 0))
            .await
            .expect("created");
    }
    assert_eq!(store.count_threads("alice").await.unwrap(), 2);
    assert_eq!(store.count_threads("bob").await.unwrap(), 1);
    store
        .delete_thread("alice", "thr_1")
        .await
        .expect("deleted");
    assert_eq!(store.count_threads("alice").await.unwrap(), 1);
}

async fn item_counts_include_hidden_items_and_only_the_owners_thread(store: &dyn ThreadStore) {
    store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    store
        .create_thread(&thread("alice", "thr_2", 0))
        .await
        .expect("created");
    for item in [
        hidden("thr_1", "msg_0", 1),
        user_msg("thr_1", "msg_1", 2, "hello"),
        assistant("thr_1", "msg_2", 3, "hi"),
        user_msg("thr_2", "msg_3", 4, "other"),
    ] {
        store.add_item("alice", &item).await.expect("added");
    }
    assert_eq!(store.count_items("alice", "thr_1").await.unwrap(), 3);
    assert_eq!(store.count_items("alice", "thr_2").await.unwrap(), 1);
    assert_eq!(
        store.count_items("bob", "thr_1").await.unwrap(),
        0,
        "another user's thread counts nothing"
    );
    assert_eq!(store.count_items("alice", "thr_none").await.unwrap(), 0);
}

contract!(
    thread_counts_are_per_user_and_follow_creates_and_deletes,
    item_counts_include_hidden_items_and_only_the_owners_thread,
);
