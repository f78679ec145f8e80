//! Redis is optional: down means degraded, not unready, and it recovers by itself.

use crate::helpers::{pairs, spawn_app_with, target_of, test_redis_url, via, wait_for_readiness};
use crate::proxy::TcpProxy;

#[tokio::test]
async fn readiness_is_degraded_but_200_while_redis_is_down_and_recovers() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    // Arrange
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let app = spawn_app_with(pairs(&[("REDIS_URL", &via(&redis, proxy.addr))])).await;
    let (status, body) = wait_for_readiness(&app, 200, 10).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );

    // Act
    proxy.cut();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut body = serde_json::Value::Null;
    while tokio::time::Instant::now() < deadline {
        let (status, b) = app.get_json("/health/ready").await;
        assert_eq!(status, 200, "Redis is optional: {b}");
        body = b;
        if body["status"] == "degraded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Assert
    assert_eq!(body["status"], "degraded", "{body}");
    let redis_check = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "redis")
        .cloned()
        .unwrap();
    assert_eq!(redis_check["status"], "down");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, b) = app.get_json("/health/ready").await;
        if b["status"] == "ok" || tokio::time::Instant::now() > deadline {
            assert_eq!(b["status"], "ok", "Redis reconnects by itself: {b}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_redis_turn_lock_admits_one_turn_per_thread_across_replicas() {
    use study_mode_api::adapters::redis::RedisClient;
    use study_mode_api::adapters::redis_lock::RedisTurnLock;
    use study_mode_api::config::RedisConfig;
    use study_mode_api::domain::ports::TurnLock;
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange: two "replicas" sharing one Redis, in a namespace of their own.
    let config = RedisConfig {
        url: url.into(),
        password: None,
    };
    let ns = uuid::Uuid::new_v4().simple().to_string();
    let a = RedisTurnLock::new(RedisClient::connect(&config).unwrap().client().clone(), &ns);
    let b = RedisTurnLock::new(RedisClient::connect(&config).unwrap().client().clone(), &ns);
    let ttl = std::time::Duration::from_secs(30);
    // Act + Assert
    let held = a.try_acquire("thr_1", ttl).await.unwrap();
    assert!(held.is_some());
    assert!(
        b.try_acquire("thr_1", ttl).await.unwrap().is_none(),
        "the other replica is refused"
    );
    assert!(
        b.try_acquire("thr_2", ttl).await.unwrap().is_some(),
        "other threads are free"
    );
    drop(held);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.try_acquire("thr_1", ttl).await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "released after the turn"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A lock whose holder died expires by itself.
    let _leaked = std::mem::ManuallyDrop::new(
        a.try_acquire("thr_3", std::time::Duration::from_millis(200))
            .await
            .unwrap(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        b.try_acquire("thr_3", ttl).await.unwrap().is_some(),
        "TTL frees a lock"
    );
}
