//! The REST mirror calls the same use cases as `/chatkit`.

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, create_lesson_thread, message, spawn_tutor_app};

/// The typed events of a REST mirror stream: `(event, data)`, keep-alive comments left out.
pub fn sse_data(body: &str) -> Vec<(String, Value)> {
    body.split_terminator("\n\n")
        .filter(|f| !f.starts_with(':'))
        .map(|frame| {
            let mut event = String::new();
            let mut data = Value::Null;
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).expect("JSON data");
                }
            }
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn a_thread_can_be_studied_through_the_rest_mirror() {
    // Arrange
    let app = spawn_tutor_app().await;
    let c = &app.client;
    let as_student = |r: reqwest::RequestBuilder| r.header("x-user-id", "rest-student");
    // Act: create
    let created = as_student(c.post(app.url("/v1/threads")))
        .json(&json!({"lesson_path": LESSON}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let thread: Value = created.json().await.unwrap();
    let id = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["lesson_path"], LESSON);
    // send a message: typed events
    let resp = as_student(c.post(app.url(&format!("/v1/threads/{id}/messages"))))
        .json(&json!({"text":"Start please"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"user_message"));
    assert!(kinds.contains(&"delta"));
    assert!(kinds.contains(&"done"));
    let answer = events.iter().find(|(e, _)| e == "done").unwrap().1["item"].clone();
    assert_eq!(answer["role"], "tutor");
    assert!(!answer["text"].as_str().unwrap().contains("CORRECT"));
    // list items, rename, rate, delete
    let items: Value = as_student(c.get(app.url(&format!("/v1/threads/{id}/items?order=asc"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 2);
    let renamed: Value = as_student(c.patch(app.url(&format!("/v1/threads/{id}"))))
        .json(&json!({"title":"Agents"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Agents");
    let item_id = answer["id"].as_str().unwrap();
    let rated = as_student(c.post(app.url(&format!("/v1/threads/{id}/items/{item_id}/feedback"))))
        .json(&json!({"kind":"positive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rated.status(), 204);
    let listed: Value = as_student(c.get(app.url("/v1/threads")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["title"], "Agents");
    // Assert: isolation and deletion
    let foreign = c
        .get(app.url(&format!("/v1/threads/{id}")))
        .header("x-user-id", "someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    let deleted = as_student(c.delete(app.url(&format!("/v1/threads/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = as_student(c.get(app.url(&format!("/v1/threads/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "thread_not_found");
}

#[tokio::test]
async fn rest_inputs_are_validated() {
    let app = spawn_tutor_app().await;
    let resp = app
        .client
        .post(app.url("/v1/threads"))
        .json(&json!({"lesson_path":"../x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_lesson_path");
    let resp = app
        .client
        .get(app.url("/v1/threads?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .post(app.url("/v1/threads"))
        .json(&json!({"nope":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "missing lesson_path");
}

#[tokio::test]
async fn both_event_streams_send_the_same_utf8_content_type() {
    // Arrange
    let app = spawn_tutor_app().await;
    let c = &app.client;
    let id = &create_lesson_thread(
        c.post(app.url("/v1/threads"))
            .header("x-user-id", "sse-student"),
    )
    .await;

    // Act
    let rest = c
        .post(app.url(&format!("/v1/threads/{id}/messages")))
        .header("x-user-id", "sse-student")
        .json(&json!({"text": "Start please"}))
        .send()
        .await
        .unwrap();
    let rest_type = rest.headers()["content-type"].clone();
    let rest_events = sse_data(&rest.text().await.unwrap());
    let chatkit = app
        .chatkit_as(
            "sse-student",
            json!({"type": "threads.create", "params": {"input": message("Start please")}}),
            &format!("?lesson_path={LESSON}"),
        )
        .await;
    let chatkit_type = chatkit.headers()["content-type"].clone();
    chatkit.text().await.unwrap();

    // Assert
    assert_eq!(rest_type, "text/event-stream; charset=utf-8");
    assert_eq!(chatkit_type, rest_type);
    assert!(rest_events.iter().any(|(e, _)| e == "done"));
}

#[tokio::test]
async fn absent_optional_fields_are_left_out_not_null() {
    // Arrange
    let app = spawn_tutor_app().await;
    let c = &app.client;
    let as_student = |r: reqwest::RequestBuilder| r.header("x-user-id", "nulls-student");
    let created: Value = as_student(c.post(app.url("/v1/threads")))
        .json(&json!({"lesson_path": LESSON}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();

    // Act
    let threads: Value = as_student(c.get(app.url("/v1/threads")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items: Value = as_student(c.get(app.url(&format!("/v1/threads/{id}/items"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Assert
    assert!(created.get("title").is_none(), "{created}");
    assert_eq!(created["lesson_path"], LESSON);
    assert_eq!(threads["has_more"], false);
    assert!(threads.get("after").is_none(), "{threads}");
    assert!(threads["data"][0].get("title").is_none(), "{threads}");
    assert_eq!(items["has_more"], false);
    assert!(items.get("after").is_none(), "{items}");
}
