//! Two students with real tokens never reach each other's threads through any operation.

use serde_json::{Value, json};

use super::spawn_verifying;
use crate::chatkit_client::{LESSON, create_lesson_thread, message};
use crate::fake_sso::{FakeSso, token};

#[tokio::test]
async fn no_chatkit_operation_reaches_another_students_thread() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let (ada, bob) = (token("ada"), token("bob"));
    let (thread_id, events) = app.start_thread(&ada, "Hello").await;
    let item_id = events
        .iter()
        .rev()
        .find_map(|e| e["item"]["id"].as_str())
        .expect("an item")
        .to_string();

    let (status, page) = app
        .chatkit_json(&bob, json!({"type":"threads.list","params":{}}))
        .await;
    assert_eq!((status, &page["data"]), (200, &json!([])));
    for op in [
        json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        json!({"type":"items.list","params":{"thread_id":thread_id}}),
        json!({"type":"threads.update","params":{"thread_id":thread_id,"title":"mine"}}),
        json!({"type":"items.feedback","params":{"thread_id":thread_id,"item_ids":[item_id],"kind":"negative"}}),
        json!({"type":"threads.delete","params":{"thread_id":thread_id}}),
    ] {
        let (status, body) = app.chatkit_json(&bob, op.clone()).await;
        assert_eq!(status, 404, "{op} → {body}");
    }
    let query = format!("?lesson_path={LESSON}");
    for op in [
        json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":message("hi")}}),
        json!({"type":"threads.retry_after_item","params":{"thread_id":thread_id,"item_id":item_id}}),
        json!({"type":"threads.custom_action","params":{"thread_id":thread_id,"item_id":item_id,"action":{"type":"hint","payload":{}}}}),
        json!({"type":"threads.add_client_tool_output","params":{"thread_id":thread_id,"result":{}}}),
    ] {
        let resp = app.chatkit_as(&bob, op.clone(), &query).await;
        assert_eq!(resp.status(), 404, "{op}: 404 before any stream");
    }
    // Ada still has her thread, untouched.
    let (status, thread) = app
        .chatkit_json(
            &ada,
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(status, 200, "{thread}");
    assert_ne!(thread["title"], "mine");
}

#[tokio::test]
async fn no_rest_operation_reaches_another_students_thread() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let c = &app.client;
    let (ada, bob) = (token("ada"), token("bob"));
    let id = create_lesson_thread(c.post(app.url("/v1/threads")).bearer_auth(&ada)).await;
    let listed: Value = c
        .get(app.url("/v1/threads"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    let attempts = [
        c.get(app.url(&format!("/v1/threads/{id}"))),
        c.patch(app.url(&format!("/v1/threads/{id}")))
            .json(&json!({"title":"mine"})),
        c.get(app.url(&format!("/v1/threads/{id}/items"))),
        c.post(app.url(&format!("/v1/threads/{id}/messages")))
            .json(&json!({"text":"hi"})),
        c.post(app.url(&format!("/v1/threads/{id}/items/msg_x/feedback")))
            .json(&json!({"kind":"positive"})),
        c.delete(app.url(&format!("/v1/threads/{id}"))),
    ];
    for attempt in attempts {
        let resp = attempt.bearer_auth(&bob).send().await.unwrap();
        let url = resp.url().path().to_string();
        assert_eq!(resp.status(), 404, "{url}");
    }
    let mine = c
        .get(app.url(&format!("/v1/threads/{id}")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 200);
}
