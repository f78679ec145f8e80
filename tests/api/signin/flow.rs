//! The whole browser flow: sign in through GitHub, study with the access token, refresh, log
//! out, and be refused after.

use reqwest::header::{COOKIE, ORIGIN};
use serde_json::{Value, json};

use super::{Auth, FRONT_END};
use crate::chatkit_client::LESSON;

#[tokio::test]
async fn a_student_signs_in_with_github_studies_refreshes_logs_out_and_is_refused_after() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (providers_status, providers) = auth.app.get_json("/auth/providers").await;
    assert_eq!(providers_status, 200);
    assert_eq!(providers["providers"][0]["name"], "github");
    assert_eq!(providers["providers"][0]["login_url"], "/auth/github/login");
    assert_eq!(providers["providers"][1]["name"], "google");

    // Act: the browser signs in and lands back on the front end
    let browser = auth.sign_in("github").await;
    assert_eq!(browser.landed_at, format!("{FRONT_END}/lesson"));
    assert!(!browser.landed_at.contains("token"), "no token in a URL");
    let (status, body, cookie) = auth.refresh_cookie(&browser.refresh_cookie).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    let access = body["access_token"].as_str().unwrap().to_string();
    let cookie = cookie.expect("the refresh cookie is rotated");
    assert_ne!(cookie, browser.refresh_cookie);

    // Assert: the token says who, and studies a lesson
    let (status, me) = auth.get_as(&access, "/auth/me").await;
    assert_eq!(status, 200, "{me}");
    assert!(me["user_id"].as_str().unwrap().starts_with("usr_"), "{me}");
    assert_eq!(me["credential"], "own_token");
    assert_eq!(me["email"], "ada@example.org");
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["tier"], "free");
    assert_eq!(me["role"], "student");
    assert_eq!(me["providers"], json!(["github"]));
    let created = auth
        .http
        .post(auth.app.url("/v1/threads"))
        .bearer_auth(&access)
        .json(&json!({ "lesson_path": LESSON }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let thread: Value = created.json().await.unwrap();
    let id = thread["id"].as_str().unwrap();
    let turn = auth
        .http
        .post(auth.app.url(&format!("/v1/threads/{id}/messages")))
        .bearer_auth(&access)
        .json(&json!({ "text": "Teach me, please" }))
        .send()
        .await
        .unwrap();
    assert_eq!(turn.status(), 200);
    let events = turn.text().await.unwrap();
    assert!(events.contains("event: done"), "{events}");

    // Act: refresh again, then log out
    let (status, body, cookie) = auth.refresh_cookie(&cookie).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let cookie = cookie.unwrap();
    let out = auth
        .http
        .post(auth.app.url("/auth/logout"))
        .header(COOKIE, format!("sm_refresh={cookie}"))
        .header(ORIGIN, FRONT_END)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let (cleared, attributes) = super::set_cookie(&out, "sm_refresh").expect("cookie cleared");
    assert_eq!(cleared, "");
    assert!(attributes.contains("Max-Age=0"), "{attributes}");

    // Assert: refused after, both the refresh token and the access token
    let (status, body, _) = auth.refresh_cookie(&cookie).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = auth.get_as(&access, "/v1/threads").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn a_student_signs_in_with_google_and_the_id_token_is_checked() {
    // Arrange
    let auth = Auth::start(&[]).await;
    // Act
    let (access, _) = auth.tokens("google").await;
    // Assert
    let (status, me) = auth.get_as(&access, "/auth/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "grace@example.org");
    assert_eq!(me["providers"], json!(["google"]));
}

#[tokio::test]
async fn a_cli_keeps_its_refresh_token_in_the_body_and_gets_a_new_one_each_time() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (_, refresh) = auth.tokens("github").await;
    // Act
    let (status, body) = auth.refresh_body(&refresh).await;
    // Assert
    assert_eq!(status, 200, "{body}");
    let next = body["refresh_token"]
        .as_str()
        .expect("body clients get the new token");
    assert_ne!(next, refresh);
    assert_eq!(body["refresh_expires_in"], 7 * 86_400);
    let (status, _) = auth.refresh_body(next).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_security_events_are_counted_in_metrics() {
    // Arrange
    let auth = Auth::start(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let (_, refresh) = auth.tokens("github").await;
    let (_, body) = auth.refresh_body(&refresh).await;
    let _ = body;
    // Act: replay the rotated token
    let (status, _) = auth.refresh_body(&refresh).await;
    assert_eq!(status, 401);
    // Assert
    let metrics = auth.app.get("/metrics").await.text().await.unwrap();
    for line in [
        "auth_events_total{event=\"sign_in\",outcome=\"ok\"} 1",
        "auth_events_total{event=\"refresh\",outcome=\"ok\"} 2",
        "auth_events_total{event=\"reuse\",outcome=\"family_revoked\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}
