//! Shutdown keeps its promise: running turns finish (or are stored as interrupted) before the
//! process stops, and requests arriving on open connections while it drains get a clear 503.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::chatkit_client::{lessons_dir, message, sse_events};
use crate::fake_model::{self, FakeModel, Script};
use crate::helpers::{TestApp, pairs, spawn_with_config, test_config};

/// A service on the SQLite file of `dir`, answering with `model`, with `grace` to shut down.
async fn spawn_on(dir: &tempfile::TempDir, model: &FakeModel, grace: &str) -> TestApp {
    let url = format!("sqlite://{}/app.sqlite?mode=rwc", dir.path().display());
    spawn_with_config(test_config(pairs(&[
        ("DATABASE_URL", &url),
        ("LESSONS_DIR", &lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "30"),
        ("SHUTDOWN_GRACE_SECS", grace),
    ])))
    .await
}

fn slow(deltas: usize, delay_ms: u64) -> Script {
    Script {
        deltas: (0..deltas).map(|i| format!("part{i} ")).collect(),
        delay: Duration::from_millis(delay_ms),
        ..Script::default()
    }
}

/// The tutor's messages of a thread, through the REST mirror.
async fn tutor_items(app: &TestApp, user: &str, thread_id: &str) -> Vec<Value> {
    app.rest_items(user, thread_id)
        .await
        .into_iter()
        .filter(|i| i["role"] == "tutor")
        .collect()
}

/// Starts a thread and returns its id once the stream has begun (the thread.created event).
async fn start_streaming(app: &TestApp, user: &str) -> (String, reqwest::Response) {
    let body = json!({"type":"threads.create","params":{"input": message("Hello")}});
    let mut resp = app
        .chatkit_as(
            user,
            body,
            &format!("?lesson_path={}", crate::chatkit_client::LESSON),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = resp.chunk().await.unwrap().expect("first event");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let first = &sse_events(&seen[..seen.find("\n\n").unwrap() + 2])[0];
    let id = first["thread"]["id"]
        .as_str()
        .expect("thread.created first");
    (id.to_string(), resp)
}

#[tokio::test]
async fn a_turn_whose_student_left_is_finished_and_stored_before_the_process_stops() {
    // Arrange: a 2-second answer; the student closes the page right after it starts.
    let model = fake_model::start(slow(5, 400)).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_on(&dir, &model, "10").await;
    let (thread_id, resp) = start_streaming(&app, "student-left").await;
    drop(resp);

    // Act: shut down at once.
    app.stop().await.unwrap();

    // Assert: by the time the process could exit, the whole answer was stored.
    let again = spawn_on(&dir, &model, "10").await;
    let tutor = tutor_items(&again, "student-left", &thread_id).await;
    assert_eq!(tutor.len(), 1, "{tutor:?}");
    assert_eq!(tutor[0]["interrupted"], false);
    assert_eq!(tutor[0]["text"], "part0 part1 part2 part3 part4");
}

#[tokio::test]
async fn a_turn_longer_than_the_grace_is_stored_as_interrupted_and_its_student_told() {
    // Arrange: a 12-second answer, a 1-second grace.
    let model = fake_model::start(slow(30, 400)).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_on(&dir, &model, "1").await;
    let (thread_id, resp) = start_streaming(&app, "student-stays").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    // Act
    let stopping = tokio::spawn(app.stop());
    let body = tokio::time::timeout(Duration::from_secs(15), resp.text())
        .await
        .expect("the stream ends soon after the grace")
        .expect("the stream ends cleanly");
    stopping.await.unwrap().unwrap();

    // Assert: the student saw the partial answer done, then an error inviting a retry.
    let events = sse_events(&body);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.last(), Some(&"error"), "{kinds:?}");
    assert_eq!(events.last().unwrap()["allow_retry"], true);
    let done = events
        .iter()
        .rfind(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .expect("the partial answer is done");
    let shown = done["item"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.starts_with("part0 "), "{shown}");
    assert!(!shown.contains("part29"), "cut before the end: {shown}");
    // … and it is stored as interrupted, with the same text.
    let again = spawn_on(&dir, &model, "1").await;
    let tutor = tutor_items(&again, "student-stays", &thread_id).await;
    assert_eq!(tutor.len(), 1, "{tutor:?}");
    assert_eq!(tutor[0]["interrupted"], true);
    assert_eq!(tutor[0]["text"], shown.as_str());
}

#[tokio::test]
async fn a_request_on_an_open_connection_while_draining_gets_503_and_connection_close() {
    // Arrange: one keep-alive connection busy with a 2-second turn.
    let model = fake_model::start(slow(5, 400)).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_on(&dir, &model, "10").await;
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let body = json!({"type":"threads.create","params":{"input": message("Hello")}}).to_string();
    let turn = format!(
        "POST /chatkit?lesson_path={} HTTP/1.1\r\nhost: x\r\nx-user-id: student-drain\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        crate::chatkit_client::LESSON,
        body.len()
    );
    socket.write_all(turn.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = socket.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // Act: shutdown starts; the connection sends its next request when the turn ended.
    let stopping = tokio::spawn(app.stop());
    let mut seen = Vec::new();
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "the turn's response ends before the connection closes"
        );
        seen.extend_from_slice(&buf[..n]);
        if seen.ends_with(b"0\r\n\r\n") {
            break;
        }
    }
    socket
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_string(&mut answer))
        .await
        .expect("answered, then closed")
        .unwrap();
    stopping.await.unwrap().unwrap();

    // Assert
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(lower.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("shutting_down"), "{answer}");
}
