//! A ChatKit client for tests: requests, SSE framing checks, and shortcuts. Every 2xx JSON
//! answer and every event it reads is validated against the published spec's ChatKit schemas
//! (see `chatkit_schema`), and so are the requests of its helpers, which are meant to be valid.

use serde_json::{Value, json};

use crate::chatkit_schema::assert_valid;

use crate::helpers::{TestApp, pairs, spawn_app_with, spawn_with_config, test_config};

pub const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";
pub const LESSON_TITLE: &str = "What Is an AI Agent?";

/// `POST /v1/threads` for a thread studying [`LESSON`], sent with `req` (which names the
/// caller): the new thread's id.
pub async fn create_lesson_thread(req: reqwest::RequestBuilder) -> String {
    let created: Value = req
        .json(&json!({ "lesson_path": LESSON }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().expect("thread id").to_string()
}

pub fn lessons_dir() -> String {
    format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR"))
}

/// A service on SQLite with the sample lessons and the offline tutor.
pub async fn spawn_tutor_app() -> TestApp {
    spawn_app_with(pairs(&[("LESSONS_DIR", &lessons_dir())])).await
}

/// The same on the given database URL (Postgres).
pub async fn spawn_tutor_app_on(database_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = pairs(&[
        ("LESSONS_DIR", &lessons_dir()),
        ("DATABASE_URL", database_url),
    ]);
    vars.extend(pairs(extra));
    spawn_with_config(test_config(vars)).await
}

/// The `input` of a teach-mode message.
pub fn message(text: &str) -> Value {
    let input = json!({"content":[{"type":"input_text","text":text}],"attachments":[],"inference_options":{}});
    assert_valid("ChatKitUserMessageInput", &input);
    input
}

/// The `input` of an ask-mode message.
pub fn ask_message(text: &str) -> Value {
    let input = json!({"content":[{"type":"input_text","text":text}],"attachments":[],"inference_options":{"model":"ask"}});
    assert_valid("ChatKitUserMessageInput", &input);
    input
}

impl TestApp {
    /// POSTs a ChatKit request as `user` with the lesson query. `user` is a development user
    /// id, or a JWT (anything with two dots), which is sent as a bearer token instead.
    pub async fn chatkit_as(&self, user: &str, body: Value, query: &str) -> reqwest::Response {
        let req = self.client.post(self.url(&format!("/chatkit{query}")));
        let req = if user.matches('.').count() == 2 {
            req.bearer_auth(user)
        } else {
            req.header("x-user-id", user)
        };
        req.json(&body)
            .send()
            .await
            .expect("request reaches the service")
    }

    /// A JSON operation: status and body.
    pub async fn chatkit_json(&self, user: &str, body: Value) -> (u16, Value) {
        let resp = self.chatkit_as(user, body, "").await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"));
        if (200..300).contains(&status) {
            assert_valid("ChatKitResponse", &body);
        }
        (status, body)
    }

    /// A streaming operation read to the end: its events.
    pub async fn chatkit_stream(&self, user: &str, body: Value, query: &str) -> Vec<Value> {
        let resp = self.chatkit_as(user, body, query).await;
        assert_eq!(resp.status(), 200, "stream starts");
        assert_eq!(
            resp.headers()["content-type"],
            "text/event-stream; charset=utf-8"
        );
        assert_eq!(resp.headers()["cache-control"], "no-cache");
        assert_eq!(resp.headers()["x-accel-buffering"], "no");
        let events = sse_events(&resp.text().await.unwrap());
        for event in &events {
            assert_valid("ChatKitEvent", event);
        }
        events
    }

    /// Starts a thread with `text`; returns the thread id and the events.
    pub async fn start_thread(&self, user: &str, text: &str) -> (String, Vec<Value>) {
        let body = json!({"type":"threads.create","params":{"input": message(text)}});
        assert_valid("ChatKitRequest", &body);
        let events = self
            .chatkit_stream(user, body, &format!("?lesson_path={LESSON}"))
            .await;
        let id = events[0]["thread"]["id"]
            .as_str()
            .expect("thread.created first")
            .to_string();
        (id, events)
    }

    pub async fn send(&self, user: &str, thread_id: &str, text: &str) -> Vec<Value> {
        let body = json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input": message(text)}});
        assert_valid("ChatKitRequest", &body);
        self.chatkit_stream(user, body, "").await
    }
}

/// Splits an SSE body into events, asserting the protocol's framing: `data: ` + one line of
/// compact JSON + a blank line, or a `: keep-alive` comment.
pub fn sse_events(body: &str) -> Vec<Value> {
    assert!(
        body.is_empty() || body.ends_with("\n\n"),
        "body ends with a blank line: {body:?}"
    );
    let mut events = Vec::new();
    for frame in body.split_terminator("\n\n") {
        if frame == ": keep-alive" {
            continue;
        }
        let json = frame
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("frame starts with `data: `: {frame:?}"));
        assert!(!json.contains('\n'), "one line per event");
        let value: Value = serde_json::from_str(json).expect("event is JSON");
        assert_eq!(
            serde_json::to_string(&value).unwrap().len(),
            json.len(),
            "compact JSON: {json}"
        );
        events.push(value);
    }
    events
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The finished assistant text of a turn.
pub fn assistant_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .map(|e| {
            e["item"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .next_back()
        .expect("an assistant message")
}
