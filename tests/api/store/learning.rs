//! The `LearningStore` reads over the thread store: study states selected by learner and by
//! lesson (the lesson recorded by each turn's commit), and ratings counted per section.

use serde_json::json;
use study_mode_api::domain::learning::SectionFeedback;
use study_mode_api::domain::lesson::LessonPath;
use study_mode_api::domain::ports::{LearningStore, ThreadStore, TurnCommit};
use study_mode_api::domain::teach::StudyState;
use study_mode_api::domain::thread::FeedbackKind;

use super::{Fixture, assistant, thread, user_msg};

fn path(p: &str) -> LessonPath {
    LessonPath::parse(p).unwrap()
}

/// A thread of `user` on `lesson` (none: a thread without a lesson) with one committed turn
/// whose state is on `chunk`; its assistant message is `msg_{id}`.
async fn studied(fx: &Fixture, user: &str, id: &str, lesson: Option<&str>, chunk: u32) {
    let mut t = thread(user, id, 0);
    t.metadata = match lesson {
        Some(lesson) => json!({ "lesson_path": lesson, "mode": "teach" }),
        None => json!({ "mode": "teach" }),
    };
    fx.store
        .create_thread_with_item(&t, &user_msg(id, &format!("u_{id}"), 1, "A"))
        .await
        .unwrap();
    let commit = TurnCommit {
        thread_id: id.to_owned(),
        items: vec![assistant(id, &format!("msg_{id}"), 2, "Correct!")],
        state: Some(StudyState {
            chunk_index: chunk,
            turns: 2,
            section_count: 4,
            ..StudyState::default()
        }),
        title: None,
        usage: None,
    };
    fx.store.commit_turn(user, &commit).await.unwrap();
}

async fn records_are_selected_by_learner_and_by_lesson(fx: &Fixture) {
    studied(fx, "alice", "thr_1", Some("a/one"), 0).await;
    studied(fx, "alice", "thr_2", Some("a/two"), 1).await;
    studied(fx, "alice", "thr_3", Some("a/one"), 2).await;
    studied(fx, "bob", "thr_4", Some("a/one"), 3).await;
    studied(fx, "bob", "thr_5", None, 0).await;
    let store: &dyn LearningStore = &fx.store;

    let alice = store.user_records("alice", None, 100).await.unwrap();
    let threads: Vec<&str> = alice.iter().map(|r| r.thread_id.as_str()).collect();
    assert_eq!(threads, ["thr_3", "thr_2", "thr_1"], "newest first");
    assert_eq!(alice[0].lesson_path.as_str(), "a/one");
    assert_eq!(alice[0].state.chunk_index, 2);
    assert_eq!(alice[0].state.section_count, 4);

    let one = store
        .user_records("alice", Some(&path("a/one")), 100)
        .await
        .unwrap();
    assert_eq!(one.len(), 2);
    assert_eq!(store.user_records("alice", None, 1).await.unwrap().len(), 1);

    let class = store
        .lesson_records(Some(&path("a/one")), 100)
        .await
        .unwrap();
    let mut users: Vec<&str> = class.iter().map(|r| r.user_id.as_str()).collect();
    users.sort_unstable();
    assert_eq!(users, ["alice", "alice", "bob"]);
    // A thread without a lesson is in no report.
    assert_eq!(store.lesson_records(None, 100).await.unwrap().len(), 4);
    assert!(
        store
            .user_records("bob", Some(&path("a/two")), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn ratings_are_counted_per_section_of_the_rated_message(fx: &Fixture) {
    studied(fx, "alice", "thr_1", Some("a/one"), 1).await;
    studied(fx, "bob", "thr_2", Some("a/one"), 1).await;
    studied(fx, "bob", "thr_3", Some("a/two"), 0).await;
    for (user, thread, kind) in [
        ("alice", "thr_1", FeedbackKind::Negative),
        ("bob", "thr_2", FeedbackKind::Negative),
        ("bob", "thr_3", FeedbackKind::Positive),
    ] {
        fx.store
            .add_feedback(user, thread, &[format!("msg_{thread}")], kind)
            .await
            .unwrap();
    }
    let store: &dyn LearningStore = &fx.store;
    let one = store.section_feedback(Some(&path("a/one"))).await.unwrap();
    assert_eq!(
        one,
        vec![SectionFeedback {
            lesson_path: path("a/one"),
            section: 1,
            kind: FeedbackKind::Negative,
            count: 2,
        }]
    );
    assert_eq!(store.section_feedback(None).await.unwrap().len(), 2);
    // No synced book: no titles, and no error.
    assert!(store.section_titles(None, 10).await.unwrap().is_empty());
}

sql_contract!(
    records_are_selected_by_learner_and_by_lesson,
    ratings_are_counted_per_section_of_the_rated_message,
);
