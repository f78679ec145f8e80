//! Tutoring turns end to end: a whole lesson with the offline tutor, ask mode, and a real
//! (fake) OpenAI-compatible model: retries, cut streams, disconnects, one turn at a time.

use std::time::Duration;

use serde_json::json;

use crate::chatkit_client::{
    LESSON, ask_message, assistant_text, message, spawn_tutor_app, spawn_tutor_app_on, types,
};
use crate::fake_model::{self, Script};
use crate::helpers::{TestApp, pairs, spawn_app_with};

async fn spawn_with_model(model: &fake_model::FakeModel) -> TestApp {
    spawn_app_with(pairs(&[
        ("LESSONS_DIR", &crate::chatkit_client::lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "10"),
    ]))
    .await
}

#[tokio::test]
async fn a_whole_lesson_can_be_taught_with_the_offline_tutor() {
    // Arrange
    let app = spawn_tutor_app().await;
    let (thread_id, events) = app.start_thread("student-a", "\u{200B}").await;
    assert!(
        assistant_text(&events).contains("B)"),
        "the first step asks an A/B question"
    );
    // Act: always answer A; a wrong answer is explained again, the third reveals and moves on.
    let mut finished = false;
    for _ in 0..20 {
        let events = app.send("student-a", &thread_id, "A").await;
        assert!(
            !serde_json::to_string(&events)
                .unwrap()
                .to_lowercase()
                .contains("[[correct")
        );
        if assistant_text(&events).contains("finished") {
            finished = true;
            break;
        }
    }
    // Assert
    assert!(finished, "the lesson completes with a summary");
}

#[tokio::test]
async fn ask_mode_answers_briefly_without_a_quiz() {
    let app = spawn_tutor_app().await;
    let body = json!({"type":"threads.create","params":{"input": ask_message("What do tools let an agent do?")}});
    let events = app
        .chatkit_stream(
            "student-a",
            body,
            &format!("?lesson_path={LESSON}&selected_text=Tools%20let%20an%20agent%20act"),
        )
        .await;
    let answer = assistant_text(&events);
    assert!(answer.contains("**"), "a key term is bold: {answer}");
    assert!(!answer.contains("A)"), "no quiz in ask mode: {answer}");
}

#[tokio::test]
async fn the_model_stream_is_relayed_without_the_marker_and_the_answer_is_checked() {
    let model = fake_model::start(Script {
        deltas: fake_model::teaching_deltas(),
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let (thread_id, events) = app.start_thread("student-a", "\u{200B}").await;
    let text = assistant_text(&events);
    assert!(
        text.ends_with("B) Tools let an agent act"),
        "marker removed, whitespace kept: {text:?}"
    );
    assert!(!serde_json::to_string(&events).unwrap().contains("CORRECT"));
    let sent = model.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(sent["stream"], true);
    // The student answers B: the server knows it is right; the next prompt says so.
    app.send("student-a", &thread_id, "B").await;
    let sent = model.last_body.lock().unwrap().clone().unwrap().to_string();
    assert!(
        sent.to_lowercase().contains("correct"),
        "the verdict reaches the model"
    );
}

#[tokio::test]
async fn a_429_before_the_first_token_is_retried() {
    let model = fake_model::start(Script {
        failures_first: vec![429],
        deltas: vec!["Hello ".into(), "there".into()],
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let (_, events) = app.start_thread("student-a", "Hi").await;
    assert_eq!(assistant_text(&events), "Hello there");
    assert_eq!(model.requests.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_stream_cut_midway_keeps_the_partial_text_and_reports_an_error() {
    let model = fake_model::start(Script {
        deltas: fake_model::teaching_deltas(),
        cut_after: Some(2),
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let (thread_id, events) = app.start_thread("student-a", "Hi").await;
    let kinds = types(&events);
    assert_eq!(kinds.last(), Some(&"error"), "{kinds:?}");
    assert_eq!(events.last().unwrap()["allow_retry"], true);
    assert_eq!(assistant_text(&events), "Agents use **tools** to act.");
    let (_, thread) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(
        thread["items"]["data"].as_array().unwrap().len(),
        2,
        "the partial answer is stored"
    );
}

#[tokio::test]
async fn the_answer_is_stored_even_when_the_client_disconnects() {
    let model = fake_model::start(Script {
        deltas: vec!["Slow ".into(), "but ".into(), "complete.".into()],
        delay: Duration::from_millis(300),
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let (thread_id, _) = app.start_thread("student-a", "First").await;
    // Start a turn and hang up right after the stream begins.
    let resp = app.chatkit_as("student-a", json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":message("Second")}}), "").await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, thread) = app
            .chatkit_json(
                "student-a",
                json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
            )
            .await;
        let items = thread["items"]["data"].as_array().unwrap().clone();
        if items.len() == 4 {
            assert_eq!(items[3]["content"][0]["text"], "Slow but complete.");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "answer stored after disconnect: {thread}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_second_turn_on_the_same_thread_gets_409_while_the_first_runs() {
    let model = fake_model::start(Script {
        deltas: vec!["One ".into(), "two".into()],
        delay: Duration::from_millis(500),
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;
    let (thread_id, _) = app.start_thread("student-a", "First").await;
    let body = json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":message("again")}});
    let first = app.chatkit_as("student-a", body.clone(), "").await;
    assert_eq!(first.status(), 200);
    let second = app.chatkit_as("student-a", body, "").await;
    assert_eq!(second.status(), 409);
    let err: serde_json::Value = second.json().await.unwrap();
    assert_eq!(err["error"]["code"], "turn_in_progress");
    first.text().await.unwrap();
}

#[tokio::test]
async fn the_protocol_holds_on_postgres_too() {
    let Some(admin) = crate::helpers::test_database_url().await else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    let app = spawn_tutor_app_on(&url, &[]).await;
    let (thread_id, events) = app.start_thread("student-a", "\u{200B}").await;
    assert_eq!(types(&events).last(), Some(&"thread.updated"));
    let events = app.send("student-a", &thread_id, "B").await;
    assert_eq!(types(&events)[0], "thread.item.done");
    let (status, page) = app
        .chatkit_json(
            "student-a",
            json!({"type":"items.list","params":{"thread_id":thread_id,"order":"asc"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        3,
        "greeting, answer, reply: {page}"
    );
}
