//! Page cursors survive the deletion of the row they stop at, on both surfaces; the older
//! plain-id form keeps working while its row exists, and is refused with 400 once it is gone.

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, spawn_tutor_app};
use crate::helpers::TestApp;

const STUDENT: &str = "paging-student";

/// A REST request as `STUDENT`: status and JSON body (`null` when there is none).
async fn rest(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let req = app
        .client
        .request(method.clone(), app.url(path))
        .header("x-user-id", STUDENT);
    let req = if method == reqwest::Method::POST {
        req.json(&json!({"lesson_path": LESSON}))
    } else {
        req
    };
    let resp = req.send().await.expect("request reaches the service");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|row| row["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Creates three threads through the REST mirror; returns their ids, newest first.
async fn three_threads(app: &TestApp) -> Vec<String> {
    let mut created = Vec::new();
    for _ in 0..3 {
        let (status, thread) = rest(app, reqwest::Method::POST, "/v1/threads").await;
        assert_eq!(status, 201);
        created.push(thread["id"].as_str().unwrap().to_string());
    }
    let (_, all) = rest(app, reqwest::Method::GET, "/v1/threads?limit=10").await;
    let all = ids(&all);
    assert_eq!(all.len(), 3);
    all
}

#[tokio::test]
async fn rest_thread_pages_continue_after_the_last_thread_of_a_page_is_deleted() {
    // Arrange: page 1 of three threads ends at the middle one, which is then deleted.
    let app = spawn_tutor_app().await;
    let all = three_threads(&app).await;
    let (status, first) = rest(&app, reqwest::Method::GET, "/v1/threads?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&first), all[..2]);
    assert_eq!(first["has_more"], true);
    let cursor = first["after"].as_str().expect("a cursor").to_string();
    let (legacy_status, legacy) = rest(
        &app,
        reqwest::Method::GET,
        &format!("/v1/threads?limit=2&after={}", all[1]),
    )
    .await;
    assert_eq!(
        (legacy_status, ids(&legacy)),
        (200, vec![all[2].clone()]),
        "the older id form works while its thread exists"
    );
    let (status, _) = rest(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/threads/{}", all[1]),
    )
    .await;
    assert_eq!(status, 204);

    // Act
    let (status, second) = rest(
        &app,
        reqwest::Method::GET,
        &format!("/v1/threads?limit=2&after={cursor}"),
    )
    .await;
    let (legacy_status, legacy) = rest(
        &app,
        reqwest::Method::GET,
        &format!("/v1/threads?limit=2&after={}", all[1]),
    )
    .await;

    // Assert
    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second), [all[2].clone()]);
    assert_eq!(second["has_more"], false);
    assert_eq!(legacy_status, 400, "the older id form of a deleted thread");
    assert_eq!(legacy["error"]["code"], "bad_request");
}

#[tokio::test]
async fn chatkit_thread_pages_continue_after_the_last_thread_of_a_page_is_deleted() {
    let app = spawn_tutor_app().await;
    let all = three_threads(&app).await;
    let (_, first) = app
        .chatkit_json(STUDENT, json!({"type":"threads.list","params":{"limit":2}}))
        .await;
    assert_eq!(ids(&first), all[..2]);
    let cursor = first["after"].as_str().expect("a cursor").to_string();
    let (status, _) = app
        .chatkit_json(
            STUDENT,
            json!({"type":"threads.delete","params":{"thread_id": all[1]}}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, second) = app
        .chatkit_json(
            STUDENT,
            json!({"type":"threads.list","params":{"limit":2,"after":cursor}}),
        )
        .await;

    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second), [all[2].clone()]);
    assert_eq!(second["has_more"], false);
    assert!(second.get("after").is_none(), "no cursor on the last page");
}

#[tokio::test]
async fn chatkit_item_pages_continue_after_the_last_item_of_a_page_is_deleted() {
    // Arrange: user 1, tutor 1, user 2, tutor 2; page 1 (newest first) is tutor 2 alone.
    let app = spawn_tutor_app().await;
    let (thread_id, _) = app.start_thread(STUDENT, "Hello").await;
    app.send(STUDENT, &thread_id, "And then?").await;
    let list = |after: Option<&str>| {
        let mut params = json!({"thread_id": thread_id, "limit": 1});
        if let Some(after) = after {
            params["limit"] = json!(10);
            params["after"] = json!(after);
        }
        app.chatkit_json(STUDENT, json!({"type":"items.list","params": params}))
    };
    let (_, all) = app
        .chatkit_json(
            STUDENT,
            json!({"type":"items.list","params":{"thread_id": thread_id, "limit": 10}}),
        )
        .await;
    let all = ids(&all);
    assert_eq!(all.len(), 4);
    let (_, first) = list(None).await;
    assert_eq!(ids(&first), all[..1]);
    let cursor = first["after"].as_str().expect("a cursor").to_string();
    // Retrying the second question deletes the answer page 1 stopped at.
    app.chatkit_stream(
        STUDENT,
        json!({"type":"threads.retry_after_item","params":{"thread_id": thread_id,"item_id": all[1]}}),
        "",
    )
    .await;

    // Act
    let (status, second) = list(Some(&cursor)).await;
    let (legacy_gone, gone) = list(Some(&all[0])).await;
    let (legacy_kept, kept) = list(Some(&all[1])).await;

    // Assert
    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second), all[1..]);
    assert_eq!(
        (legacy_gone, gone["error"]["code"].clone()),
        (400, json!("bad_request")),
        "the older id form of a deleted item"
    );
    assert_eq!(legacy_kept, 200, "ChatKit's last item id still works");
    assert_eq!(ids(&kept), all[2..]);
}

#[tokio::test]
async fn a_forged_or_damaged_cursor_is_refused_on_both_surfaces() {
    let app = spawn_tutor_app().await;
    three_threads(&app).await;
    for after in ["c1.!!!!", "c1.MB", "c1.MC4", "c2.MC54"] {
        let (status, body) = rest(
            &app,
            reqwest::Method::GET,
            &format!("/v1/threads?after={after}"),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("invalid_id")),
            "{after}"
        );
        let (status, body) = app
            .chatkit_json(
                STUDENT,
                json!({"type":"threads.list","params":{"after": after}}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("invalid_id")),
            "{after}"
        );
    }
}
