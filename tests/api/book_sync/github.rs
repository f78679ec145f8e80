//! The book sync against a fake GitHub: the tree listed in one call, conditional fetches, a
//! lesson that always fails, Redis down, a push, and two workers sharing one queue.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{ADMIN, small_book};
use crate::fake_github::{BRANCH, FakeGithub, PREFIX, REPO};
use crate::helpers::{
    TestApp, fresh_postgres_database, pairs, spawn_app_with, spawn_with_config, test_config,
    test_database_url,
};

const HOOK: &str = "webhook-secret-0123456789";

fn fake_vars(fake: &FakeGithub) -> Vec<(String, String)> {
    pairs(&[
        ("GITHUB_RAW_BASE_URL", &fake.base_url()),
        ("GITHUB_API_BASE_URL", &fake.api_base_url()),
        ("GITHUB_TOKEN", "ghp_test_token_123"),
        ("ADMIN_SECRET", ADMIN),
        ("GITHUB_WEBHOOK_SECRET", HOOK),
        ("JOB_BACKOFF_MIN_MS", "10"),
        ("JOB_BACKOFF_MAX_SECS", "1"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("WORKER_IN_PROCESS", "true"),
    ])
}

/// A fake GitHub serving the small book, and a service syncing from it (on SQLite unless
/// `extra` names a `DATABASE_URL`).
pub async fn github_setup(extra: &[(&str, &str)]) -> (FakeGithub, TestApp) {
    let fake = FakeGithub::start().await;
    for (file, text) in small_book() {
        fake.put(file, &text);
    }
    let mut vars = fake_vars(&fake);
    vars.retain(|(k, _)| extra.iter().all(|(e, _)| e != k));
    vars.extend(pairs(extra));
    let app = if extra.iter().any(|(k, _)| *k == "DATABASE_URL") {
        spawn_with_config(test_config(vars)).await
    } else {
        spawn_app_with(vars).await
    };
    (fake, app)
}

pub fn files() -> Vec<&'static str> {
    small_book().into_iter().map(|(f, _)| f).collect()
}

#[tokio::test]
async fn a_github_sync_lists_the_tree_once_and_downloads_only_what_changed() {
    // Arrange
    let (fake, app) = github_setup(&[]).await;

    // Act: a first sync, a second with nothing changed, a third after one file changed.
    let first = app.sync_and_wait(json!({})).await;
    let downloads_after_first = fake.total_downloads();
    let second = app.sync_and_wait(json!({})).await;
    let downloads_after_second = fake.total_downloads();
    let changed = files()[0];
    fake.put(
        changed,
        &format!("{}\n\nOne more line.\n", small_book()[0].1),
    );
    let third = app.sync_and_wait(json!({})).await;

    // Assert
    assert_eq!(first["counts"]["synced"], 3, "{first}");
    assert_eq!(fake.tree_hits(), 3, "one listing per sync");
    assert_eq!(downloads_after_first, 3, "each lesson downloaded once");
    assert_eq!(second["counts"]["unchanged"], 3, "{second}");
    assert_eq!(
        downloads_after_second, 3,
        "an unchanged lesson costs no download"
    );
    assert_eq!(third["counts"]["synced"], 1, "{third}");
    assert_eq!(third["counts"]["unchanged"], 2);
    assert_eq!(fake.downloads(changed), 2);
    assert_eq!(fake.total_downloads(), 4);
    // Students read the synced copy without GitHub.
    let before = fake.total_hits();
    let resp = app
        .client
        .get(app.url("/v1/lessons?path=01-Intro/01-Basics/02-second"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        fake.total_hits(),
        before,
        "served from the cache the sync filled"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_named_lesson_synced_again_is_fetched_conditionally_and_not_downloaded() {
    // Arrange
    let (fake, app) = github_setup(&[]).await;
    let body = json!({"paths": ["01-Intro/01-Basics/01-first"]});
    app.sync_and_wait(body.clone()).await;

    // Act: no listing, so the version is unknown: the request carries the ETag.
    let again = app.sync_and_wait(body).await;

    // Assert
    assert_eq!(again["counts"]["unchanged"], 1, "{again}");
    assert_eq!(
        fake.downloads(files()[0]),
        1,
        "the second fetch was answered 304"
    );
    assert!(fake.hits(files()[0]) >= 2);
    assert_eq!(fake.tree_hits(), 0, "a sync of named lessons lists nothing");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_lesson_that_always_fails_ends_dead_and_is_retried_once_fixed() {
    // Arrange
    let (fake, app) = github_setup(&[("JOB_MAX_ATTEMPTS", "2")]).await;
    let broken = files()[2];
    fake.fail_file(broken, None);

    // Act
    let job = app.sync_and_wait(json!({})).await;
    let id = job["id"].as_str().unwrap().to_string();
    fake.heal(broken);
    let retry = app
        .client
        .post(app.url(&format!("/admin/jobs/{id}/retry")))
        .header("x-admin-secret", ADMIN)
        .send()
        .await
        .unwrap();
    let retry_status = retry.status().as_u16();
    let retried: Value = retry.json().await.unwrap();
    let after = app.wait_job(&id).await;

    // Assert
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["counts"]["dead"], 1);
    assert_eq!(job["counts"]["synced"], 2);
    let failure = &job["failures"][0];
    assert_eq!(failure["path"], "01-Intro/02-More/01-third");
    assert_eq!(failure["outcome"], "dead");
    assert_eq!(failure["attempts"], 2, "JOB_MAX_ATTEMPTS tries: {job}");
    assert!(
        failure["error"].as_str().unwrap().starts_with("ingestion:"),
        "{job}"
    );
    let (_, progress) = app
        .get_json("/v1/lessons/progress?path=01-Intro/02-More/01-third")
        .await;
    assert_eq!(retry_status, 200, "{retried}");
    assert_eq!(retried["retried"], 1);
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["counts"]["synced"], 3);
    assert_eq!(after["failures"], json!([]));
    let _ = progress;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn with_redis_down_progress_reads_pending_and_the_sync_still_completes() {
    // Arrange: Redis configured on a port nobody listens on.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = format!("redis://127.0.0.1:{dead_port}");
    let (_fake, app) = github_setup(&[("REDIS_URL", &redis)]).await;

    // Act
    let job = app.sync_and_wait(json!({})).await;
    let (status, progress) = app
        .get_json("/v1/lessons/progress?path=01-Intro/01-Basics/01-first")
        .await;

    // Assert
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["counts"]["synced"], 3);
    assert_eq!(job["stages"]["ingestion"]["PENDING"], 3, "degraded: {job}");
    assert_eq!(status, 200);
    assert_eq!(progress["overall_status"], "PENDING", "{progress}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_push_queues_a_sync_of_the_touched_lessons() {
    // Arrange
    let (fake, app) = github_setup(&[]).await;
    app.sync_and_wait(json!({})).await;
    let file = files()[1];
    fake.put(file, &format!("# Second\n\n{}\n", super::filler()));
    let touched = format!("{PREFIX}/{file}");
    let body = json!({
        "ref": format!("refs/heads/{BRANCH}"),
        "repository": {"full_name": REPO},
        "commits": [{"id": "abc", "added": [], "modified": [touched], "removed": []}],
        "head_commit": {"id": "abc", "added": [], "modified": [touched], "removed": []}
    })
    .to_string();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(HOOK.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));

    // Act
    let resp = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", signature)
        .header("x-github-delivery", "delivery-sync-1")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.unwrap();
    let job = app
        .wait_job(answer["sync_job_id"].as_str().expect("a job"))
        .await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    assert_eq!(job["scope"], "paths", "{job}");
    assert_eq!(job["paths"], json!(["01-Intro/01-Basics/02-second"]));
    assert_eq!(job["counts"]["synced"], 1, "{job}");
    assert_eq!(job["requested_by"], "webhook");
    let (_, quality) = app.get_json("/v1/book/quality").await;
    let second: Vec<&Value> = quality["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["path"] == "01-Intro/01-Basics/02-second")
        .collect();
    assert!(
        second.iter().all(|l| l["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["kind"] != "missing_title")),
        "the fixed title is in the report: {quality}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn two_replicas_share_one_queue_and_sync_each_lesson_once() {
    let Some(admin_url) = test_database_url().await else {
        return;
    };
    // Arrange: a bigger book, two services (each with its worker) on one Postgres database.
    let fake = FakeGithub::start().await;
    for i in 0..24 {
        fake.put(
            &format!("01-Part/01-Chapter/{i:02}-lesson.md"),
            &format!("# Lesson {i}\n\n{}\n", super::filler()),
        );
    }
    fake.slow(Duration::from_millis(20));
    let url = fresh_postgres_database(&admin_url).await;
    let mut vars = fake_vars(&fake);
    vars.extend(pairs(&[
        ("DATABASE_URL", &url),
        ("WORKER_CONCURRENCY", "3"),
    ]));
    let a = spawn_with_config(test_config(vars.clone())).await;
    let b = spawn_with_config(test_config(vars)).await;

    // Act
    let job = a.sync_and_wait(json!({})).await;

    // Assert
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["counts"]["synced"], 24, "{job}");
    for i in 0..24 {
        assert_eq!(
            fake.downloads(&format!("01-Part/01-Chapter/{i:02}-lesson.md")),
            1,
            "lesson {i} synced once"
        );
    }
    let (_, seen_by_b) = b
        .get_json(&format!("/v1/jobs/{}", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(seen_by_b["status"], "completed");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
