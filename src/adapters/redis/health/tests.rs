use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Error, ErrorKind};

use super::{Link, RedisFailure, RedisHealth};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A server the test controls: connected or not, answering PING or not.
#[derive(Default)]
struct FakeLink {
    disconnected: AtomicBool,
    answers: AtomicBool,
    pings: AtomicU32,
}

#[async_trait]
impl Link for FakeLink {
    fn is_connected(&self) -> bool {
        !self.disconnected.load(Ordering::SeqCst)
    }

    async fn ping(&self) -> Result<(), Error> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        if self.answers.load(Ordering::SeqCst) {
            Ok(())
        } else {
            std::future::pending().await
        }
    }
}

fn health() -> (RedisHealth, Arc<FakeLink>) {
    let link = Arc::new(FakeLink::default());
    let health = RedisHealth::with_link(
        link.clone(),
        Duration::from_secs(1),
        Duration::from_millis(500),
    );
    (health, link)
}

fn io_error() -> Error {
    Error::new(ErrorKind::IO, "connection reset")
}

/// A command the test can tell was sent (polled) or not.
async fn command(sent: &AtomicU32, reply: Result<u8, Error>) -> Result<u8, Error> {
    sent.fetch_add(1, Ordering::SeqCst);
    reply
}

fn fast_failures(health: &RedisHealth, component: &str) -> u64 {
    health
        .inner
        .fast_failures
        .with_label_values(&[component])
        .get()
}

#[tokio::test(start_paused = true)]
async fn a_connection_error_marks_redis_down_and_later_calls_fail_fast_without_being_sent() {
    // Arrange
    let (health, _link) = health();
    let sent = AtomicU32::new(0);
    // Act
    let first = health
        .call("test", TIMEOUT, command(&sent, Err(io_error())))
        .await;
    let started = tokio::time::Instant::now();
    let second = health.call("test", TIMEOUT, command(&sent, Ok(1))).await;
    // Assert
    assert!(matches!(first, Err(RedisFailure::Error(_))), "{first:?}");
    assert!(matches!(second, Err(RedisFailure::Down)), "{second:?}");
    assert_eq!(
        sent.load(Ordering::SeqCst),
        1,
        "the second call was never sent"
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(!health.is_up());
    assert_eq!(health.inner.up_gauge.get(), 0);
    assert_eq!(fast_failures(&health, "test"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_confirmed_by_an_unanswered_ping_marks_redis_down_and_releases_waiting_calls() {
    // Arrange: connected, and nothing answers (a blackholed Redis).
    let (health, link) = health();
    let pending = || std::future::pending::<Result<u8, Error>>();
    // Act
    let started = tokio::time::Instant::now();
    let first = health.call("test", TIMEOUT, pending()).await;
    let second = health.call("test", TIMEOUT, pending()).await;
    let released_after = started.elapsed();
    let third = health.call("test", TIMEOUT, pending()).await;
    // Assert
    assert!(matches!(first, Err(RedisFailure::TimedOut)), "{first:?}");
    assert!(matches!(second, Err(RedisFailure::Down)), "{second:?}");
    assert_eq!(
        released_after,
        TIMEOUT + Duration::from_millis(500),
        "the second call waits only for the PING that confirms the outage"
    );
    assert!(matches!(third, Err(RedisFailure::Down)), "{third:?}");
    assert_eq!(started.elapsed(), released_after, "no wait once down");
    assert_eq!(link.pings.load(Ordering::SeqCst), 1);
    assert!(!health.is_up());
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_no_outage_while_redis_still_answers_ping() {
    // Arrange: Redis answers PING; one call is slower than its bound (a busy moment).
    let (health, link) = health();
    link.answers.store(true, Ordering::SeqCst);
    let sent = AtomicU32::new(0);
    // Act
    let slow = health
        .call(
            "test",
            Duration::from_millis(50),
            std::future::pending::<Result<u8, Error>>(),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Assert
    assert!(matches!(slow, Err(RedisFailure::TimedOut)), "{slow:?}");
    assert_eq!(link.pings.load(Ordering::SeqCst), 1, "checked once");
    assert!(health.is_up());
    assert_eq!(
        health
            .call("test", TIMEOUT, command(&sent, Ok(4)))
            .await
            .ok(),
        Some(4)
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_reply_leaves_redis_up() {
    let (health, _link) = health();
    let sent = AtomicU32::new(0);
    let wrong_type = Error::new(ErrorKind::InvalidArgument, "WRONGTYPE");
    let reply = health
        .call("test", TIMEOUT, command(&sent, Err(wrong_type)))
        .await;
    assert!(matches!(reply, Err(RedisFailure::Error(_))));
    assert!(health.is_up());
    assert_eq!(
        health
            .call("test", TIMEOUT, command(&sent, Ok(7)))
            .await
            .ok(),
        Some(7)
    );
}

#[tokio::test(start_paused = true)]
async fn a_successful_probe_brings_redis_back() {
    // Arrange: down, and Redis does not answer PING yet.
    let (health, link) = health();
    let sent = AtomicU32::new(0);
    let _ = health
        .call("test", TIMEOUT, command(&sent, Err(io_error())))
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!health.is_up(), "still down while PING gets no answer");
    assert!(
        link.pings.load(Ordering::SeqCst) >= 3,
        "probed about every second"
    );

    // Act: Redis answers again.
    link.answers.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_600)).await;

    // Assert
    assert!(health.is_up());
    assert_eq!(health.inner.up_gauge.get(), 1);
    assert_eq!(
        health
            .call("test", TIMEOUT, command(&sent, Ok(3)))
            .await
            .ok(),
        Some(3)
    );
    let pings = link.pings.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        link.pings.load(Ordering::SeqCst),
        pings,
        "no probing once up"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_fails_fast_and_probing_waits_for_the_reconnection() {
    // Arrange: connected once, then the client reports the connection lost.
    let (health, link) = health();
    link.answers.store(true, Ordering::SeqCst);
    let sent = AtomicU32::new(0);
    assert!(
        health
            .call("test", TIMEOUT, command(&sent, Ok(1)))
            .await
            .is_ok()
    );
    link.disconnected.store(true, Ordering::SeqCst);

    // Act
    let reply = health.call("test", TIMEOUT, command(&sent, Ok(2))).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Assert
    assert!(
        matches!(reply, Err(RedisFailure::Disconnected)),
        "{reply:?}"
    );
    assert!(!health.is_up());
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    assert_eq!(
        link.pings.load(Ordering::SeqCst),
        0,
        "no PING queued behind a reconnection"
    );
    link.disconnected.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(health.is_up(), "up once reconnected and answering");
}

#[tokio::test(start_paused = true)]
async fn before_the_first_connection_a_call_is_sent_and_waits_for_it() {
    let (health, link) = health();
    link.disconnected.store(true, Ordering::SeqCst);
    let sent = AtomicU32::new(0);
    let reply = health.call("test", TIMEOUT, command(&sent, Ok(5))).await;
    assert_eq!(reply.ok(), Some(5));
    assert!(health.is_up());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_must_not_queue_fails_fast_before_the_first_connection_without_an_outage() {
    let (health, link) = health();
    link.disconnected.store(true, Ordering::SeqCst);
    let sent = AtomicU32::new(0);
    let reply = health
        .call_connected("test", TIMEOUT, command(&sent, Ok(5)))
        .await;
    assert!(
        matches!(reply, Err(RedisFailure::Disconnected)),
        "{reply:?}"
    );
    assert_eq!(sent.load(Ordering::SeqCst), 0);
    assert!(health.is_up(), "a first connection under way is no outage");
    assert_eq!(fast_failures(&health, "test"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_readiness_ping_is_a_real_round_trip_and_brings_redis_back_at_once() {
    // Arrange
    let (health, link) = health();
    let sent = AtomicU32::new(0);
    let _ = health
        .call("test", TIMEOUT, command(&sent, Err(io_error())))
        .await;
    // Act + Assert: unanswered, then answered before the next probe.
    let started = tokio::time::Instant::now();
    assert!(matches!(
        health.ping(Duration::from_millis(300)).await,
        Err(RedisFailure::TimedOut)
    ));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    link.answers.store(true, Ordering::SeqCst);
    assert!(health.ping(Duration::from_millis(300)).await.is_ok());
    assert!(health.is_up());
}
