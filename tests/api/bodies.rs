//! Bad request bodies: `null` or wrong-typed JSON is a 400 with the one error shape on every
//! operation that reads a body, and `"mode": null` is refused where the spec forbids it.

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, spawn_tutor_app};
use crate::helpers::TestApp;

const STUDENT: &str = "bodies-student";

impl TestApp {
    async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .header("x-user-id", STUDENT)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request reaches the service");
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn patch_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .client
            .patch(self.url(path))
            .header("x-user-id", STUDENT)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request reaches the service");
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

fn assert_bad_request(sent: &str, status: u16, body: &Value) {
    assert_eq!(status, 400, "{sent}: {body}");
    assert!(body["error"]["code"].is_string(), "{sent}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{sent}: {body}"
    );
    assert!(body["error"]["request_id"].is_string(), "{sent}: {body}");
}

const WRONG_BODIES: &[&str] = &["null", "42", "\"text\"", "[]", "true"];

#[tokio::test]
async fn null_or_wrong_typed_bodies_are_400_with_the_error_shape_everywhere() {
    // Arrange
    let app = spawn_tutor_app().await;
    let (status, thread) = app
        .post_raw("/v1/threads", &json!({"lesson_path": LESSON}).to_string())
        .await;
    assert_eq!(status, 201, "{thread}");
    let id = thread["id"].as_str().expect("thread id");
    let thread_path = format!("/v1/threads/{id}");
    let messages = format!("/v1/threads/{id}/messages");
    let feedback = format!("/v1/threads/{id}/items/msg_x/feedback");

    for sent in WRONG_BODIES {
        // Act
        let answers = [
            ("/chatkit", app.post_raw("/chatkit", sent).await),
            ("/v1/threads", app.post_raw("/v1/threads", sent).await),
            ("rename", app.patch_raw(&thread_path, sent).await),
            ("messages", app.post_raw(&messages, sent).await),
            ("feedback", app.post_raw(&feedback, sent).await),
        ];
        // Assert
        for (route, (status, body)) in answers {
            assert_bad_request(&format!("{route} {sent}"), status, &body);
        }
    }
}

#[tokio::test]
async fn wrong_typed_fields_are_400_with_the_error_shape() {
    // Arrange
    let app = spawn_tutor_app().await;
    let cases = [
        json!({"lesson_path": null}),
        json!({"lesson_path": LESSON, "mode": "lecture"}),
        json!({"lesson_path": LESSON, "mode": 1}),
        // A number or a boolean is not text, even if it could be printed as a path.
        json!({"lesson_path": 42}),
        json!({"lesson_path": true}),
    ];

    for sent in cases {
        // Act
        let (status, body) = app.post_raw("/v1/threads", &sent.to_string()).await;
        // Assert
        assert_bad_request(&sent.to_string(), status, &body);
    }
}

#[tokio::test]
async fn a_null_mode_is_refused_where_an_absent_one_means_teach() {
    // Arrange
    let app = spawn_tutor_app().await;

    // Act
    let (null_status, null_body) = app
        .post_raw(
            "/v1/threads",
            &json!({"lesson_path": LESSON, "mode": null}).to_string(),
        )
        .await;
    let (absent_status, thread) = app
        .post_raw("/v1/threads", &json!({"lesson_path": LESSON}).to_string())
        .await;
    let (ask_status, _) = app
        .post_raw(
            "/v1/threads",
            &json!({"lesson_path": LESSON, "mode": "ask"}).to_string(),
        )
        .await;
    let id = thread["id"].as_str().expect("thread id");
    let (message_status, message_body) = app
        .post_raw(
            &format!("/v1/threads/{id}/messages"),
            &json!({"text": "hello", "mode": null}).to_string(),
        )
        .await;

    // Assert
    assert_bad_request("createThread mode null", null_status, &null_body);
    assert!(
        null_body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("mode")),
        "{null_body}"
    );
    assert_eq!(absent_status, 201, "{thread}");
    assert_eq!(ask_status, 201);
    assert_bad_request("sendMessage mode null", message_status, &message_body);
}

#[tokio::test]
async fn null_or_non_text_fields_of_a_message_are_refused() {
    // Arrange
    let app = spawn_tutor_app().await;
    let (_, thread) = app
        .post_raw("/v1/threads", &json!({"lesson_path": LESSON}).to_string())
        .await;
    let id = thread["id"].as_str().expect("thread id");

    let sent = [
        json!({"text": "hello", "selected_text": null}),
        json!({"text": "hello", "user_name": null}),
        json!({"text": 42}),
        json!({"text": "hello", "selected_text": false}),
    ];
    for sent in sent {
        // Act
        let (status, body) = app
            .post_raw(&format!("/v1/threads/{id}/messages"), &sent.to_string())
            .await;
        // Assert
        assert_bad_request(&sent.to_string(), status, &body);
    }
}

#[tokio::test]
async fn nul_characters_are_refused_before_anything_is_stored() {
    // Arrange: PostgreSQL refuses U+0000 in text and JSON, so it is refused on every backend.
    let app = spawn_tutor_app().await;
    let (_, thread) = app
        .post_raw("/v1/threads", &json!({"lesson_path": LESSON}).to_string())
        .await;
    let id = thread["id"].as_str().expect("thread id");

    // Act
    let (message_status, message) = app
        .post_raw(
            &format!("/v1/threads/{id}/messages"),
            &json!({"text": "a\u{0}b"}).to_string(),
        )
        .await;
    let (title_status, title) = app
        .patch_raw(
            &format!("/v1/threads/{id}"),
            &json!({"title": "a\u{0}b"}).to_string(),
        )
        .await;

    // Assert
    assert_eq!(message_status, 400, "{message}");
    assert_eq!(message["error"]["code"], "invalid_text");
    assert_eq!(title_status, 400, "{title}");
}
