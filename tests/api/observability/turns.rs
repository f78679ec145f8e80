//! Turns counted by outcome, lock conflicts, and what a refused credential adds.

use std::time::Duration;

use serde_json::json;

use super::{scrape_until, spawn_with_model, total, value};
use crate::chatkit_client::{LESSON, message};
use crate::fake_model::{self, Script};
use crate::helpers::{pairs, spawn_app_with};

#[tokio::test]
async fn a_second_message_during_a_turn_counts_a_lock_conflict_and_auth_failures_count_by_kind() {
    let model = fake_model::start(Script {
        deltas: vec!["Slow ".into(), "answer.".into()],
        delay: std::time::Duration::from_millis(400),
        ..Script::default()
    })
    .await;
    let app = spawn_app_with(pairs(&[
        ("LESSONS_DIR", &crate::chatkit_client::lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "10"),
    ]))
    .await;
    let (thread_id, _) = app.start_thread("student-lock", "First").await;
    let body = |text: &str| serde_json::json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":crate::chatkit_client::message(text)}});
    // A turn streams (slowly); a second message on the thread meanwhile is refused.
    let running = app.chatkit_as("student-lock", body("Second"), "").await;
    assert_eq!(running.status(), 200);
    let refused = app.chatkit_as("student-lock", body("Third"), "").await;
    assert_eq!(refused.status(), 409);
    drop(running.text().await);
    // A bearer token nothing here accepts is a 401, counted as an opaque token not accepted here.
    let denied = app
        .client
        .post(app.url("/chatkit"))
        .bearer_auth("not-a-token")
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(value(&text, "tutoring_turn_lock_conflicts_total "), 1.0);
    assert_eq!(
        total(
            &text,
            "auth_attempts_total",
            &[
                ("kind", "opaque"),
                ("outcome", "invalid"),
                ("reason", "not_accepted")
            ]
        ),
        1.0
    );
    assert!(
        !text.contains("not-a-token") && !text.contains("student-lock"),
        "no client text in labels"
    );
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_answer_counts_the_turn_as_client_gone_and_its_stream_closed() {
    // Arrange: a model slow enough that the answer is still coming when the client leaves.
    let model = fake_model::start(Script {
        deltas: ["One ", "word ", "at ", "a ", "time."]
            .map(String::from)
            .to_vec(),
        delay: Duration::from_millis(300),
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let body = json!({"type":"threads.create","params":{"input": message("Hi")}});

    // Act: read the start of the stream, then hang up.
    let mut resp = app
        .chatkit_as("student-gone", body, &format!("?lesson_path={LESSON}"))
        .await;
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().expect("the stream starts");
    assert!(!first.is_empty());
    drop(resp);

    // Assert: the turn ends as client_gone (its answer stored all the same), no stream open.
    let text = scrape_until(
        &app,
        "tutoring_turns_total",
        &[("mode", "teach"), ("outcome", "client_gone")],
        1.0,
    )
    .await;
    assert_eq!(
        total(&text, "tutoring_turns_total", &[("outcome", "completed")]),
        0.0
    );
    assert_eq!(total(&text, "tutoring_streams_open", &[]), 0.0);
}
