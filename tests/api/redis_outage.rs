//! Redis outage memory on the running service: once a request has found Redis unreachable,
//! later requests do not wait for it; once it is back, quotas are shared across replicas again.

use std::time::{Duration, Instant};

use crate::helpers::{TestApp, pairs, spawn_app_with, target_of, test_redis_url, via};
use crate::proxy::TcpProxy;

/// How long a quota check may wait for Redis in these tests (`RATE_LIMIT_REDIS_TIMEOUT_MS`):
/// long, so that waiting for it on every request would show.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Connections dropped, new ones refused.
    Cut,
    /// Connections kept open, nothing answered.
    Blackhole,
}

async fn spawn(redis_url: &str) -> TestApp {
    spawn_app_with(pairs(&[
        ("REDIS_URL", redis_url),
        ("RATE_LIMIT_API_FREE", "3/minute"),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "1000"),
    ]))
    .await
}

fn user() -> String {
    format!("outage-{}", uuid::Uuid::new_v4().simple())
}

/// `GET /v1/threads` as `user`: one check of the `api` quota.
async fn list_threads(app: &TestApp, user: &str) -> u16 {
    app.client
        .get(app.url("/v1/threads"))
        .header("x-user-id", user)
        .send()
        .await
        .expect("request reaches the service")
        .status()
        .as_u16()
}

/// The sum of a metric's series on `/metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait_for_redis_up(app: &TestApp, up: bool, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while (metric(app, "redis_up").await == 1.0) != up {
        assert!(Instant::now() < deadline, "redis_up never became {up}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn quota_checks_skip_an_unreachable_redis_and_share_the_count_once_it_is_back(fault: Fault) {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    // Arrange: this replica reaches Redis through a proxy, another one directly.
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let app = spawn(&via(&redis, proxy.addr)).await;
    let other = spawn(&redis).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get_json("/health/ready").await.1["status"] != "ok" {
        assert!(Instant::now() < deadline, "Redis connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Act: Redis becomes unreachable; the first check finds out (a blackhole only once its
    // timeout and then a PING's have passed).
    match fault {
        Fault::Cut => proxy.cut(),
        Fault::Blackhole => proxy.blackhole(),
    }
    assert_eq!(list_threads(&app, &user()).await, 200, "decided in process");
    let started = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(list_threads(&app, &user()).await);
    }
    let took = started.elapsed();

    // Assert: served by the in-process floor, without waiting for Redis each time.
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{fault:?}: {statuses:?}"
    );
    assert!(
        took < CHECK_TIMEOUT * 5,
        "{fault:?}: 20 requests took {took:?}, as if each waited for Redis"
    );
    assert_eq!(metric(&app, "redis_up").await, 0.0);
    // Every check but the one sent while a PING was confirming a timeout was never sent.
    let fast = metric(&app, "redis_fast_failures_total").await;
    assert!(fast >= 19.0, "{fault:?}: {fast} checks failed fast");

    // Redis is back: the background probe notices, and both replicas share one count again.
    proxy.restore();
    wait_for_redis_up(&app, true, 20).await;
    let fresh = user();
    let mut shared = Vec::new();
    for replica in [&app, &other, &app, &other] {
        shared.push(list_threads(replica, &fresh).await);
    }
    assert_eq!(
        shared,
        [200, 200, 200, 429],
        "{fault:?}: 3/minute across both"
    );
}

#[tokio::test]
async fn while_redis_is_cut_quota_checks_do_not_wait_for_it_and_share_again_once_back() {
    quota_checks_skip_an_unreachable_redis_and_share_the_count_once_it_is_back(Fault::Cut).await;
}

#[tokio::test]
async fn while_redis_is_blackholed_quota_checks_do_not_wait_for_it_and_share_again_once_back() {
    quota_checks_skip_an_unreachable_redis_and_share_the_count_once_it_is_back(Fault::Blackhole)
        .await;
}
