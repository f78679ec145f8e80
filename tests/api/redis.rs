//! Redis is optional: down means degraded, not unready, and it recovers by itself.

use crate::helpers::{pairs, spawn_app_with, target_of, test_redis_url, via, wait_for_readiness};
use crate::proxy::TcpProxy;

#[tokio::test]
async fn readiness_is_degraded_but_200_while_redis_is_down_and_recovers() {
    let Some(redis) = test_redis_url() else {
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
