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
async fn admin_purge_refuses_a_null_or_wrong_typed_body_and_purges_nothing() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;

    let mut refused = Vec::new();
    for body in ["null", "{}", "42", r#""01-A/02-b""#, "[null]", "[1]"] {
        refused.push((body, app.purge(Some(ADMIN), body).await));
    }
    let (_, reread) = app.lesson_json(LESSON).await;

    for (sent, (status, body)) in refused {
        assert_eq!(status, 400, "{sent}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{sent}: {body}");
        assert!(body["error"]["request_id"].is_string(), "{sent}: {body}");
    }
    assert_eq!(reread["cached"], true);
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 1);
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
    assert_eq!(out["status"], "ok");
    assert_eq!(out["invalidated_count"], 1);
    assert_eq!(out["paths"], json!([LESSON]));
    assert!(
        out["sync_job_id"].is_string(),
        "the push queued a sync: {out}"
    );
    // The read refetches it, or finds the copy the sync the push queued has just fetched.
    assert_eq!(reread["title"], "What Is an AI Agent? (revised)");
    assert!(fake.hits(&format!("{LESSON}.md")) >= 2);
}

#[tokio::test]
async fn a_signed_event_other_than_push_is_acknowledged_and_ignored() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;
    let body = json!({"zen": "Design for failure.", "hook_id": 1}).to_string();

    let (status, out) = app.webhook("ping", &sign(&body), &body).await;

    assert_eq!(status, 200);
    assert_eq!(
        out,
        json!({"status": "ignored", "invalidated_count": 0, "paths": []})
    );
    assert_eq!(app.lesson_json(LESSON).await.1["cached"], true);
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 1);
}

#[tokio::test]
async fn every_spelling_of_a_folder_lesson_shares_one_copy_and_one_purge_covers_them_all() {
    // Arrange: a lesson that is a folder page.
    let fake = FakeGithub::start().await;
    let folder = "01-Foundations/02-Agents";
    fake.put(&format!("{folder}/index.md"), &markdown("Agents"));
    let app = spawn(&fake, &[]).await;
    let spellings = [
        format!("{folder}/index"),
        folder.to_string(),
        format!("{folder}/README.md"),
        format!("{folder}/index.mdx"),
        "01-Foundations/./02-Agents".to_string(),
        format!("docs/{folder}/./index.md"),
    ];
    let (status, first) = app.lesson_json(&spellings[0]).await;
    assert_eq!(status, 200);
    assert_eq!(first["path"], folder);

    // Act + Assert: every other spelling is the same cached copy.
    for spelling in &spellings[1..] {
        let (status, body) = app.lesson_json(spelling).await;
        assert_eq!(status, 200, "{spelling}");
        assert_eq!(body["cached"], true, "{spelling}");
        assert_eq!(body["path"], folder, "{spelling}");
    }
    assert_eq!(fake.hits(&format!("{folder}/index.md")), 1);

    // A purge naming one spelling purges them all.
    let (status, out) = app
        .purge(
            Some(ADMIN),
            &json!([format!("{folder}/index.md")]).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(out["invalidated_count"], 1);
    assert_eq!(out["paths"], json!([folder]));
    for spelling in [&spellings[4], &spellings[0]] {
        let (_, body) = app.lesson_json(spelling).await;
        assert_eq!(body["path"], folder);
    }
    assert_eq!(
        fake.hits(&format!("{folder}/index.md")),
        2,
        "refetched once, whichever spelling is read"
    );
}

#[tokio::test]
async fn a_push_changing_a_folder_page_purges_the_folder_lesson_read_under_any_spelling() {
    let fake = FakeGithub::start().await;
    let folder = "01-Foundations/02-Agents";
    fake.put(&format!("{folder}/README.md"), &markdown("Old"));
    let app = spawn(&fake, &[]).await;
    assert_eq!(app.lesson_json(&format!("{folder}/README")).await.0, 200);
    fake.put(&format!("{folder}/README.md"), &markdown("New"));
    let body = push_touching(&[format!("{PREFIX}/{folder}/README.md")]);

    let (status, out) = app.webhook("push", &sign(&body), &body).await;

    assert_eq!(status, 200);
    assert_eq!(out["invalidated_count"], 1);
    assert_eq!(app.lesson_json(folder).await.1["title"], "New");
}

#[tokio::test]
async fn a_purge_during_a_github_outage_keeps_serving_the_last_good_copy_as_stale() {
    // Arrange
    let (fake, app) = setup().await;
    let other = "01-Foundations/02-Agents/02-the-agent-loop";
    fake.put(&format!("{other}.md"), &markdown("The Loop"));
    assert_eq!(app.lesson_json(LESSON).await.0, 200);
    assert_eq!(app.lesson_json(other).await.0, 200);
    fake.fail(true);

    // Act
    let (one, _) = app.purge(Some(ADMIN), &json!([LESSON]).to_string()).await;
    let (status, body) = app.lesson_json(LESSON).await;
    let (all, _) = app.purge(Some(ADMIN), "").await;
    let (other_status, other_body) = app.lesson_json(other).await;

    // Assert
    assert_eq!((one, all), (200, 200));
    assert_eq!(status, 200);
    assert_eq!(body["stale"], true);
    assert_eq!(body["title"], "What Is an AI Agent?");
    assert_eq!(other_status, 200);
    assert_eq!(other_body["stale"], true);
    assert_eq!(
        fake.hits(&format!("{LESSON}.md")),
        2,
        "a fresh fetch was tried first"
    );
}

#[tokio::test]
async fn a_purge_of_everything_right_after_another_is_refused_with_429_but_paths_still_purge() {
    let (_fake, app) = setup().await;
    assert_eq!(app.purge(Some(ADMIN), "").await.0, 200);

    let resp = app
        .client
        .post(app.url("/admin/invalidate-cache"))
        .header("x-admin-secret", ADMIN)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        app.purge(Some(ADMIN), &json!([LESSON]).to_string()).await.0,
        200
    );
}

#[tokio::test]
async fn with_a_local_folder_dot_segments_name_the_same_cached_lesson() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/b.md"), markdown("Local")).unwrap();
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[("LESSONS_DIR", dir.path().to_str().unwrap())]).await;
    assert_eq!(app.lesson_json("a/b").await.1["cached"], false);

    let (status, body) = app.lesson_json("a/./b").await;

    assert_eq!(status, 200);
    assert_eq!(body["path"], "a/b");
    assert_eq!(body["cached"], true, "one key for both spellings");
    std::fs::write(dir.path().join("a/b.md"), markdown("Edited")).unwrap();
    assert_eq!(
        app.purge(Some(ADMIN), r#"["./a/b"]"#).await.1["invalidated_count"],
        1
    );
    assert_eq!(app.lesson_json("a/b").await.1["title"], "Edited");
}
