//! `UserDataStore`: a student's threads exported whole, and erased without touching anyone
//! else's.

use study_mode_api::domain::ports::{ThreadStore, ThreadsErased, TurnCommit, UserDataStore};
use study_mode_api::domain::teach::StudyState;
use study_mode_api::domain::thread::FeedbackKind;

use super::super::{Fixture, assistant, at, hidden, thread, user_msg};
use super::user_data;

sql_contract!(
    export_returns_threads_with_items_study_state_and_feedback,
    erase_counts_what_it_deletes_and_leaves_other_users_alone,
);

/// alice: `thr_1` (three items, a study state, one rating) and an empty `thr_2`; bob: `thr_3`
/// with one item.
async fn seed(store: &dyn ThreadStore) -> StudyState {
    let state = StudyState {
        chunk_index: 2,
        turns: 3,
        ..StudyState::default()
    };
    store
        .create_thread_with_item(
            &thread("alice", "thr_1", 0),
            &user_msg("thr_1", "msg_1", 1, "hi"),
        )
        .await
        .expect("thread 1");
    store
        .commit_turn(
            "alice",
            &TurnCommit {
                thread_id: "thr_1".to_owned(),
                items: vec![
                    hidden("thr_1", "msg_2", 2),
                    assistant("thr_1", "msg_3", 3, "Why?"),
                ],
                state: Some(state.clone()),
                title: None,
                usage: None,
            },
        )
        .await
        .expect("turn");
    store
        .add_feedback(
            "alice",
            "thr_1",
            &["msg_3".to_owned()],
            FeedbackKind::Positive,
        )
        .await
        .expect("rated");
    store
        .create_thread(&thread("alice", "thr_2", 10))
        .await
        .expect("thread 2");
    store
        .create_thread_with_item(
            &thread("bob", "thr_3", 5),
            &user_msg("thr_3", "msg_9", 6, "yo"),
        )
        .await
        .expect("bob's thread");
    store
        .add_feedback(
            "bob",
            "thr_3",
            &["msg_9".to_owned()],
            FeedbackKind::Negative,
        )
        .await
        .expect("bob rated");
    state
}

async fn export_returns_threads_with_items_study_state_and_feedback(fx: &Fixture) {
    let state = seed(&fx.store).await;
    let store = user_data(fx);

    let exported = store.export("alice", 10).await.expect("exports");

    let ids: Vec<&str> = exported.iter().map(|e| e.thread.id.as_str()).collect();
    assert_eq!(ids, ["thr_1", "thr_2"], "alice's threads, oldest first");
    let first = &exported[0];
    assert_eq!(first.thread.user_id, "alice");
    let items: Vec<&str> = first.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(items, ["msg_1", "msg_2", "msg_3"], "hidden ones included");
    assert_eq!(first.items[2], assistant("thr_1", "msg_3", 3, "Why?"));
    assert_eq!(first.study_state.as_ref(), Some(&state));
    assert_eq!(first.feedback.len(), 1);
    assert_eq!(first.feedback[0].item_id, "msg_3");
    assert_eq!(first.feedback[0].kind, FeedbackKind::Positive);
    assert!(first.feedback[0].created_at > at(0));
    let empty = &exported[1];
    assert!(empty.items.is_empty() && empty.feedback.is_empty());
    assert_eq!(empty.study_state, None);

    let capped = store.export("alice", 1).await.expect("exports");
    assert_eq!(capped.len(), 1);
    assert_eq!(capped[0].thread.id, "thr_1");
    assert!(store.export("carol", 10).await.expect("exports").is_empty());
}

async fn erase_counts_what_it_deletes_and_leaves_other_users_alone(fx: &Fixture) {
    seed(&fx.store).await;
    let store = user_data(fx);

    let erased = store.erase("alice").await.expect("erases");

    assert_eq!(
        erased,
        ThreadsErased {
            threads: 2,
            items: 3,
            feedback: 1,
        }
    );
    assert!(store.export("alice", 10).await.expect("exports").is_empty());
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM study_states").await,
        0,
        "study state went with its thread"
    );
    let bob = store.export("bob", 10).await.expect("exports");
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].items.len(), 1);
    assert_eq!(bob[0].feedback.len(), 1);
    assert_eq!(
        store.erase("alice").await.expect("erases nothing"),
        ThreadsErased::default()
    );
}
