//! The student's own data: export and erasure, for an own account and for other principals.

use serde_json::{Value, json};

use super::Auth;
use crate::chatkit_client::{LESSON, create_lesson_thread};

async fn study(auth: &Auth, token: &str) -> String {
    let id = create_lesson_thread(
        auth.http
            .post(auth.app.url("/v1/threads"))
            .bearer_auth(token),
    )
    .await;
    let turn = auth
        .http
        .post(auth.app.url(&format!("/v1/threads/{id}/messages")))
        .bearer_auth(token)
        .json(&json!({ "text": "Start please" }))
        .send()
        .await
        .unwrap();
    assert_eq!(turn.status(), 200);
    let _ = turn.text().await.unwrap();
    id
}

#[tokio::test]
async fn a_student_exports_everything_then_deletes_it_and_every_session_ends() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (access, refresh) = auth.tokens("github").await;
    let thread = study(&auth, &access).await;
    // Act: export
    let (status, export) = auth.get_as(&access, "/v1/me/export").await;
    // Assert
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["user"]["email"], "ada@example.org");
    assert!(export["account_created_at"].is_string());
    let threads = export["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0]["id"], thread.as_str());
    assert_eq!(threads[0]["lesson_path"], LESSON);
    let roles: Vec<&str> = threads[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"user") && roles.contains(&"tutor"),
        "{roles:?}"
    );

    // Act: delete
    let resp = auth
        .http
        .delete(auth.app.url("/v1/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(resp.status(), 200);
    let erased: Value = resp.json().await.unwrap();
    assert_eq!(erased["threads"], 1);
    assert!(erased["items"].as_u64().unwrap() >= 2, "{erased}");
    assert_eq!(erased["account_deleted"], true);
    assert!(
        erased["refresh_tokens_revoked"].as_u64().unwrap() >= 1,
        "{erased}"
    );
    let (status, _) = auth.refresh_body(&refresh).await;
    assert_eq!(status, 401, "every session ended");
    let (status, _) = auth.get_as(&access, "/v1/me/export").await;
    assert_eq!(status, 401, "the access token died with the account");
}

/// `req` as the development principal `dev-export`: status and JSON body.
async fn as_dev(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.header("x-user-id", "dev-export").send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn export_and_erasure_work_for_the_development_principal_too() {
    // Arrange: a plain development service, the caller named by X-User-ID
    let app = crate::helpers::spawn_app_with(crate::helpers::pairs(&[(
        "LESSONS_DIR",
        &crate::chatkit_client::lessons_dir(),
    )]))
    .await;
    let c = &app.client;
    let (created, _) = as_dev(
        c.post(app.url("/v1/threads"))
            .json(&json!({ "lesson_path": LESSON })),
    )
    .await;
    assert_eq!(created, 201);
    // Act
    let (_, export) = as_dev(c.get(app.url("/v1/me/export"))).await;
    let (_, erased) = as_dev(c.delete(app.url("/v1/me"))).await;
    // Assert
    assert_eq!(export["user"]["credential"], "development");
    assert_eq!(export["threads"].as_array().unwrap().len(), 1);
    assert_eq!(erased["threads"], 1);
    assert_eq!(erased["account_deleted"], false);
    let (_, listed) = as_dev(c.get(app.url("/v1/threads"))).await;
    assert_eq!(listed["data"], json!([]));
}
