//! The Redis purge bus: every replica hears every purge, even after an outage.

use std::time::Duration;

use fred::prelude::PubsubInterface;
use futures::StreamExt;
use futures::stream::BoxStream;
use study_mode_api::adapters::redis_bus::RedisInvalidationBus;
use study_mode_api::domain::ports::{CacheError, Invalidation, InvalidationBus};

use super::{PATIENCE, client, path, unique};
use crate::helpers::{target_of, test_redis_url, via};
use crate::proxy::TcpProxy;

fn channel() -> String {
    format!("lesson:v1:{{{}@main}}:purge", unique())
}

async fn next(purges: &mut BoxStream<'static, Invalidation>) -> Invalidation {
    tokio::time::timeout(PATIENCE, purges.next())
        .await
        .expect("a purge arrives")
        .expect("the purge stream goes on")
}

#[tokio::test]
async fn a_purge_published_on_one_bus_reaches_every_subscriber_the_publisher_included() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let channel = channel();
    let a = RedisInvalidationBus::new(client(&url), channel.clone());
    let b = RedisInvalidationBus::new(client(&url), channel);
    let (mut on_a, mut on_b) = (a.subscribe().await, b.subscribe().await);
    let some = Invalidation::Paths(vec![path("x/y"), path("z")]);

    // Act + Assert
    a.publish(&some).await.unwrap();
    assert_eq!(next(&mut on_a).await, some);
    assert_eq!(next(&mut on_b).await, some);
    b.publish(&Invalidation::All).await.unwrap();
    assert_eq!(next(&mut on_a).await, Invalidation::All);
    assert_eq!(next(&mut on_b).await, Invalidation::All);
}

#[tokio::test]
async fn malformed_messages_on_the_channel_are_skipped() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let channel = channel();
    let raw = client(&url);
    let bus = RedisInvalidationBus::new(client(&url), channel.clone());
    let mut purges = bus.subscribe().await;

    // Act
    for junk in ["not json", r#"{"paths":[]}"#, r#"{"all":false}"#, "{}"] {
        let _: i64 = raw.publish(channel.as_str(), junk).await.unwrap();
    }
    let good = Invalidation::Paths(vec![path("after/junk")]);
    bus.publish(&good).await.unwrap();

    // Assert
    assert_eq!(next(&mut purges).await, good);
}

#[tokio::test]
async fn a_subscriber_resumes_after_redis_comes_back_and_purges_what_it_may_have_missed() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange: one replica reaches Redis through a proxy that the test takes down.
    let channel = channel();
    let proxy = TcpProxy::start(target_of(&url)).await;
    let behind_proxy = RedisInvalidationBus::new(client(&via(&url, proxy.addr)), channel.clone());
    let direct = RedisInvalidationBus::new(client(&url), channel);
    let mut purges = behind_proxy.subscribe().await;

    // Act
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.restore();

    // Assert
    assert_eq!(
        next(&mut purges).await,
        Invalidation::All,
        "announcements sent during the outage are lost, so everything is purged"
    );
    let later = Invalidation::Paths(vec![path("after/outage")]);
    direct.publish(&later).await.unwrap();
    assert_eq!(next(&mut purges).await, later);
}

#[tokio::test]
async fn without_a_reachable_redis_publishing_is_unavailable_and_subscribing_still_returns() {
    // Arrange: a local port that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port();
    let bus = RedisInvalidationBus::new(client(&format!("redis://127.0.0.1:{port}")), channel());

    // Act
    let (published, _purges) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(bus.publish(&Invalidation::All), bus.subscribe())
    })
    .await
    .expect("an unreachable Redis must not hang the bus");

    // Assert
    assert!(
        matches!(published, Err(CacheError::Unavailable(_))),
        "{published:?}"
    );
}
