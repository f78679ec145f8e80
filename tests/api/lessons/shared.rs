//! Two replicas sharing one Redis: one upstream fetch between them, purges reach both, and a
//! Redis outage does not stop lessons being served.

use std::time::Duration;

use serde_json::json;

use super::{ADMIN, markdown, spawn};
use crate::fake_github::FakeGithub;
use crate::helpers::{target_of, test_redis_url, via};
use crate::proxy::TcpProxy;

/// A lesson path no other test uses, so replicas of different tests never share cache keys.
fn unique_lesson() -> String {
    format!("shared-{}/01-lesson", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn two_replicas_make_one_upstream_fetch_for_200_concurrent_first_reads() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    // Arrange: a slow upstream so that every request arrives before the fetch ends.
    let fake = FakeGithub::start().await;
    let lesson = unique_lesson();
    fake.put(&format!("{lesson}.md"), &markdown("Shared"));
    fake.slow(Duration::from_millis(300));
    let a = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    let b = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    // A student of this run only: quotas live in the shared Redis and outlive the test, so a
    // fixed id would share its `api` quota (300 a minute) with earlier runs and other tests.
    let student = format!("student-{}", uuid::Uuid::new_v4().simple());
    // Act
    let reads = (0..200).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let url = app.url(&format!("/v1/lessons?path={}", super::encode(&lesson)));
        let student = student.clone();
        async move {
            let resp = app
                .client
                .get(url)
                .header("x-user-id", student)
                .send()
                .await;
            resp.expect("request reaches the service").status().as_u16()
        }
    });
    let statuses = futures::future::join_all(reads).await;
    // Assert
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        fake.hits(&format!("{lesson}.md")),
        1,
        "one fetch across both replicas"
    );
}

#[tokio::test]
async fn a_purge_on_one_replica_reaches_the_other() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let lesson = unique_lesson();
    fake.put(&format!("{lesson}.md"), &markdown("Old title"));
    let a = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    let b = spawn(&fake, &[("REDIS_URL", &redis)]).await;
    assert_eq!(a.lesson_json(&lesson).await.1["title"], "Old title");
    assert_eq!(
        b.lesson_json(&lesson).await.1["title"],
        "Old title",
        "served from the shared cache"
    );
    // Act: the book changes and replica A is told to purge.
    fake.put(&format!("{lesson}.md"), &markdown("New title"));
    let resp = a
        .client
        .post(a.url("/admin/invalidate-cache"))
        .header("x-admin-secret", ADMIN)
        .body(json!([lesson]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Assert: both replicas serve the new copy (B learns of the purge over pub/sub).
    assert_eq!(a.lesson_json(&lesson).await.1["title"], "New title");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let title = b.lesson_json(&lesson).await.1["title"].clone();
        if title == "New title" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica B still serves {title}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn lessons_are_still_served_while_redis_is_down() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let (cached, fresh) = (unique_lesson(), unique_lesson());
    fake.put(&format!("{cached}.md"), &markdown("Cached"));
    fake.put(&format!("{fresh}.md"), &markdown("Fresh"));
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let app = spawn(&fake, &[("REDIS_URL", &via(&redis, proxy.addr))]).await;
    assert_eq!(app.lesson_json(&cached).await.0, 200);
    // Act: Redis goes away mid-test.
    proxy.cut();
    // Assert: the in-process copy still serves, and a new lesson is fetched directly.
    assert_eq!(app.lesson_json(&cached).await.0, 200);
    let (status, body) = app.lesson_json(&fresh).await;
    assert_eq!((status, body["title"].as_str()), (200, Some("Fresh")));
    proxy.restore();
}
