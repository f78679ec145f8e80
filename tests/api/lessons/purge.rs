//! Purging lessons: `POST /admin/invalidate-cache` and signed GitHub push webhooks, each
//! observed through the next read's upstream requests.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{ADMIN, HOOK, LESSON, markdown, setup, spawn};
use crate::fake_github::{BRANCH, FakeGithub, PREFIX, REPO};
use crate::helpers::TestApp;

impl TestApp {
    async fn purge(&self, secret: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url("/admin/invalidate-cache"))
            .body(body.to_string());
        if let Some(secret) = secret {
            req = req.header("x-admin-secret", secret);
        }
        let resp = req.send().await.expect("request reaches the service");
        (
            resp.status().as_u16(),
            resp.json().await.expect("JSON body"),
        )
    }

    async fn webhook(&self, event: &str, signature: &str, body: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-hub-signature-256", signature)
            .header("x-github-delivery", "delivery-1")
            .body(body.to_string())
            .send()
            .await
            .expect("request reaches the service");
        (
            resp.status().as_u16(),
            resp.json().await.expect("JSON body"),
        )
    }
}

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn push_touching(files: &[String]) -> String {
    json!({
        "ref": format!("refs/heads/{BRANCH}"),
        "repository": {"full_name": REPO},
        "commits": [{"id": "abc", "added": [], "modified": files, "removed": []}],
        "head_commit": {"id": "abc", "added": [], "modified": files, "removed": []}
    })
    .to_string()
}

#[tokio::test]
async fn admin_purge_is_forbidden_without_the_right_secret() {
    let (_fake, app) = setup().await;

    let (none, none_body) = app.purge(None, "").await;
    let (wrong, _) = app.purge(Some("admin-secret-wrong-000"), "").await;

    assert_eq!(none, 401);
    assert_eq!(none_body["error"]["code"], "unauthorized");
    assert_eq!(wrong, 403);
}

#[tokio::test]
async fn admin_purge_is_forbidden_while_no_secret_is_configured() {
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[("ADMIN_SECRET", "")]).await;

    assert_eq!(app.purge(Some(ADMIN), "").await.0, 403);
}

#[tokio::test]
async fn admin_purge_of_a_path_makes_the_next_read_refetch_it() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;

    let (status, body) = app.purge(Some(ADMIN), &json!([LESSON]).to_string()).await;
    let (_, reread) = app.lesson_json(LESSON).await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "invalidated_count": 1, "paths": [LESSON]})
    );
    assert_eq!(reread["cached"], false);
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 2);
}

#[tokio::test]
async fn admin_purge_with_an_empty_body_purges_everything() {
    let (fake, app) = setup().await;
    let other = "01-Foundations/02-Agents/02-the-agent-loop";
    fake.put(&format!("{other}.md"), &markdown("The Loop"));
    app.lesson_json(LESSON).await;
    app.lesson_json(other).await;

    let (status, body) = app.purge(Some(ADMIN), "").await;

    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["paths"], json!([]));
    assert_eq!(app.lesson_json(LESSON).await.1["cached"], false);
    assert_eq!(app.lesson_json(other).await.1["cached"], false);
    assert_eq!(fake.hits(&format!("{other}.md")), 2);
}

#[tokio::test]
async fn admin_purge_refuses_an_invalid_path_naming_it() {
    let (_fake, app) = setup().await;

    let (status, body) = app.purge(Some(ADMIN), r#"["ok/path", "../x"]"#).await;

    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_lesson_path");
    assert!(body["error"]["message"].as_str().unwrap().contains("../x"));
}

#[tokio::test]
async fn a_webhook_with_a_bad_signature_is_unauthorized() {
    let (_fake, app) = setup().await;
    let body = push_touching(&[format!("{PREFIX}/{LESSON}.md")]);

    let (status, out) = app.webhook("push", "sha256=00", &body).await;

    assert_eq!(status, 401);
    assert_eq!(out["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_signed_push_touching_a_lesson_makes_the_next_read_refetch_it() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;
    fake.put(
        &format!("{LESSON}.md"),
        &markdown("What Is an AI Agent? (revised)"),
    );
    let body = push_touching(&[format!("{PREFIX}/{LESSON}.md"), "package.json".into()]);

    let (status, out) = app.webhook("push", &sign(&body), &body).await;
    let (_, reread) = app.lesson_json(LESSON).await;

    assert_eq!(status, 200);
    assert_eq!(
        out,
        json!({"status": "ok", "invalidated_count": 1, "paths": [LESSON]})
    );
    assert_eq!(reread["cached"], false);
    assert_eq!(reread["title"], "What Is an AI Agent? (revised)");
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 2);
}

#[tokio::test]
async fn a_signed_event_other_than_push_is_acknowledged_and_ignored() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;
    let body = json!({"zen": "Design for failure.", "hook_id": 1}).to_string();

    let (status, out) = app.webhook("ping", &sign(&body), &body).await;

    assert_eq!(status, 202);
    assert_eq!(out, json!({"status": "ignored"}));
    assert_eq!(app.lesson_json(LESSON).await.1["cached"], true);
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 1);
}
