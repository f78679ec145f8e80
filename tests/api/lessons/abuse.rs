//! Abuse of the operator routes: guessing `X-Admin-Secret` or webhook signatures runs into the
//! per-address budget, and a replayed webhook delivery purges nothing again.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{ADMIN, HOOK, LESSON, markdown, setup, spawn};
use crate::fake_github::{BRANCH, FakeGithub, PREFIX, REPO};
use crate::helpers::{TestApp, test_redis_url};

const BUDGET: (&str, &str) = ("PREAUTH_RATE_LIMIT", "3/minute");

async fn status_and_body(resp: reqwest::Response) -> (u16, Value) {
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn purge_with_secret(app: &TestApp, secret: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/admin/invalidate-cache"))
        .header("x-admin-secret", secret)
        .body(json!([LESSON]).to_string())
        .send()
        .await
        .expect("request reaches the service");
    status_and_body(resp).await
}

async fn deliver(app: &TestApp, delivery: &str, signature: &str, body: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", signature)
        .header("x-github-delivery", delivery)
        .body(body.to_string())
        .send()
        .await
        .expect("request reaches the service");
    status_and_body(resp).await
}

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A push modifying `lesson`; `after` makes the body of each push distinct, as GitHub's are.
fn push_of(lesson: &str, after: &str) -> String {
    let files = [format!("{PREFIX}/{lesson}.md")];
    json!({
        "ref": format!("refs/heads/{BRANCH}"),
        "after": after,
        "repository": {"full_name": REPO},
        "commits": [{"id": after, "added": [], "modified": files, "removed": []}],
        "head_commit": {"id": after, "added": [], "modified": files, "removed": []}
    })
    .to_string()
}

#[tokio::test]
async fn guessing_the_admin_secret_gets_429_once_the_address_used_its_budget() {
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[BUDGET]).await;

    let mut guesses = Vec::new();
    for i in 0..4 {
        guesses.push(purge_with_secret(&app, &format!("wrong-secret-guess-{i:04}")).await);
    }
    let (right, body) = purge_with_secret(&app, ADMIN).await;

    let statuses: Vec<u16> = guesses.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [403, 403, 403, 429]);
    assert_eq!(guesses[3].1["error"]["code"], "rate_limited");
    assert_eq!(
        right, 429,
        "not even the right secret is compared now: {body}"
    );
}

#[tokio::test]
async fn guessing_webhook_signatures_gets_429_once_the_address_used_its_budget() {
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[BUDGET]).await;
    let body = push_of(LESSON, "c0ffee");

    let mut statuses = Vec::new();
    for i in 0..4 {
        let forged = format!("sha256={:064x}", i);
        statuses.push(deliver(&app, "d-1", &forged, &body).await.0);
    }

    assert_eq!(statuses, [401, 401, 401, 429]);
}

#[tokio::test]
async fn a_replayed_delivery_is_acted_on_once_whatever_its_delivery_id() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;
    fake.put(&format!("{LESSON}.md"), &markdown("Revised"));
    let body = push_of(LESSON, "c0ffee");
    let signature = sign(&body);

    let first = deliver(
        &app,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        &signature,
        &body,
    )
    .await;
    app.lesson_json(LESSON).await;
    let replay = deliver(
        &app,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        &signature,
        &body,
    )
    .await;
    let renamed = deliver(&app, "a-fresh-delivery-id", &signature, &body).await;
    let (_, reread) = app.lesson_json(LESSON).await;

    assert_eq!(first.0, 200);
    assert_eq!(first.1["invalidated_count"], 1);
    assert_eq!(
        replay,
        (
            200,
            json!({"status": "duplicate", "invalidated_count": 0, "paths": []})
        )
    );
    assert_eq!(
        renamed,
        (
            200,
            json!({"status": "duplicate", "invalidated_count": 0, "paths": []})
        )
    );
    assert_eq!(reread["cached"], true, "no second purge");
    assert_eq!(
        fake.hits(&format!("{LESSON}.md")),
        2,
        "one refetch after one purge"
    );
    // Another push is a new delivery.
    let next = push_of(LESSON, "beef00");
    assert_eq!(deliver(&app, "d-2", &sign(&next), &next).await.0, 200);
}

#[tokio::test]
async fn a_delivery_replayed_to_another_replica_is_acted_on_once() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let a = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    let b = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    // A body no other run has sent, as Redis remembers deliveries for a day.
    let body = push_of(LESSON, &uuid::Uuid::new_v4().simple().to_string());
    let signature = sign(&body);

    let first = deliver(&a, "d-1", &signature, &body).await;
    let replay = deliver(&b, "d-1", &signature, &body).await;

    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(
        replay,
        (
            200,
            json!({"status": "duplicate", "invalidated_count": 0, "paths": []})
        )
    );
}
