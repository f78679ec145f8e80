//! Rate limiters against real Redis: the Lua script matches `domain::sliding_log`, checks are
//! atomic under concurrency, windows reset on time, keys expire, and an outage fails fast.

use std::sync::Arc;
use std::time::Duration;

use study_mode_api::adapters::rate_limit_memory::MemoryRateLimiter;
use study_mode_api::adapters::rate_limit_redis::RedisRateLimiter;
use study_mode_api::adapters::redis::RedisClient;
use study_mode_api::config::RedisConfig;
use study_mode_api::domain::ports::{RateLimitError, RateLimiter};
use study_mode_api::domain::rate_limit::{Decision, Window};
use study_mode_api::domain::sliding_log::{self, Log};

use crate::helpers::test_redis_url;

/// Generous for a loaded test machine: the first call also waits for the connection.
const TIMEOUT: Duration = Duration::from_secs(3);

/// For the outage tests: they must fail by this deadline, not by some later one.
const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

fn window(limit: u32, period: Duration) -> Window {
    Window { limit, period }
}

fn client(url: &str) -> fred::prelude::Client {
    let config = RedisConfig {
        url: url.to_string().into(),
        password: None,
    };
    RedisClient::connect(&config)
        .expect("valid URL")
        .client()
        .clone()
}

/// A limiter under a prefix no other test uses.
/// Connected first: the limiter refuses to queue checks while its client is disconnected.
async fn redis_limiter(url: &str) -> RedisRateLimiter {
    let prefix = format!("rltest:{}:", uuid::Uuid::new_v4().simple());
    RedisRateLimiter::new(connected_client(url).await, &prefix, TIMEOUT)
}

async fn connected_client(url: &str) -> fred::prelude::Client {
    use fred::prelude::ClientLike;
    let client = client(url);
    let _ = tokio::time::timeout(Duration::from_secs(5), client.wait_for_connect()).await;
    client
}

fn now_us() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since_epoch.as_micros()).unwrap()
}

/// xorshift64: reproducible request patterns without another dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn admitted_concurrently(
    limiter: Arc<dyn RateLimiter>,
    key: &str,
    windows: &[Window],
) -> usize {
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (limiter, key, windows) = (limiter.clone(), key.to_string(), windows.to_vec());
            tokio::spawn(async move { limiter.check(&key, &windows).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().allowed {
            allowed += 1;
        }
    }
    allowed
}

#[tokio::test]
async fn the_lua_script_and_the_rust_arithmetic_agree_on_random_sequences() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    let limiter = redis_limiter(&url).await;
    let periods = [1, 2, 5, 60].map(Duration::from_secs);
    for seed in 1..=8u64 {
        // Arrange: one to three windows with distinct periods, and a pinned clock.
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let count = 1 + rng.below(3) as usize;
        // Some long lists too, so counting over partly expired ones is exercised.
        let most = if seed % 2 == 0 { 40 } else { 10 };
        let windows: Vec<Window> = periods[..count]
            .iter()
            .map(|&p| window(1 + rng.below(most) as u32, p))
            .collect();
        let key = format!("user_{seed}");
        let (mut now, mut logs) = (now_us(), vec![Log::new(); windows.len()]);
        for step in 0..200 {
            now = match rng.below(6) {
                0 => now,
                1 => now + rng.below(1_000),
                2 => now + rng.below(500_000),
                3 => now + rng.below(3_000_000),
                // A clock stepped back: both sides read it as the newest stored time.
                4 => now - rng.below(2_000),
                _ => now + 1_000_000 - rng.below(2_000),
            };
            // Act + Assert: the same decision, remaining counts and retry included.
            if rng.below(5) == 0 {
                let redis = limiter.peek_at(&key, &windows, now).await.unwrap();
                assert_eq!(
                    redis,
                    sliding_log::peek(now, &windows, &logs),
                    "seed {seed} step {step}"
                );
            } else {
                let redis = limiter.check_at(&key, &windows, now).await.unwrap();
                let rust = sliding_log::check(now, &windows, &mut logs);
                assert_eq!(redis, rust, "seed {seed} step {step}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_limit_of_100_concurrent_checks_succeed_in_memory() {
    let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(1_000));
    let windows = [window(20, Duration::from_secs(60))];
    assert_eq!(
        admitted_concurrently(limiter.clone(), "u1", &windows).await,
        20
    );
    assert_eq!(admitted_concurrently(limiter, "u2", &windows).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_limit_of_100_concurrent_checks_succeed_on_redis() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    let limiter: Arc<dyn RateLimiter> = Arc::new(redis_limiter(&url).await);
    let windows = [window(20, Duration::from_secs(60))];
    assert_eq!(
        admitted_concurrently(limiter.clone(), "u1", &windows).await,
        20
    );
    // Another key of the same limiter has its own quota.
    assert_eq!(admitted_concurrently(limiter, "u2", &windows).await, 20);
}

#[tokio::test]
async fn a_rejection_on_redis_consumes_nothing_and_peek_consumes_nothing() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    let limiter = redis_limiter(&url).await;
    let windows = [
        window(1, Duration::from_secs(60)),
        window(5, Duration::from_secs(3600)),
    ];
    for _ in 0..3 {
        limiter.check("u1", &windows).await.unwrap();
    }
    for _ in 0..3 {
        let seen = limiter.peek("u1", &windows).await.unwrap();
        assert!(!seen.allowed);
        assert_eq!((seen.tightest, seen.windows[1].remaining), (0, 4));
    }
}

#[tokio::test]
async fn a_one_second_window_resets_on_time_on_redis() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let limiter = redis_limiter(&url).await;
    let windows = [window(3, Duration::from_secs(1))];
    let mut last = None;
    for _ in 0..3 {
        last = Some(limiter.check("u1", &windows).await.unwrap());
    }
    let rejected = limiter.check("u1", &windows).await.unwrap();
    assert!(!rejected.allowed);
    let retry = rejected.retry_after.unwrap();
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(1));

    // Act: wait until the window says it is fully replenished.
    let reset = last.unwrap().windows[0].reset_after;
    assert_eq!(reset, Duration::from_secs(1));
    tokio::time::sleep(reset + Duration::from_millis(50)).await;

    // Assert
    let peeked = limiter.peek("u1", &windows).await.unwrap();
    assert_eq!(peeked.windows[0].remaining, 3);
    for _ in 0..3 {
        assert!(limiter.check("u1", &windows).await.unwrap().allowed);
    }
}

#[tokio::test]
async fn every_window_key_on_redis_expires_after_its_period() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    use fred::prelude::{ClientLike, KeysInterface};
    let redis = client(&url);
    let _ = tokio::time::timeout(Duration::from_secs(5), redis.wait_for_connect()).await;
    let limiter = RedisRateLimiter::new(
        redis.clone(),
        &format!("rltest:{}:", uuid::Uuid::new_v4().simple()),
        TIMEOUT,
    );
    let windows = [
        window(10, Duration::from_secs(60)),
        window(100, Duration::from_secs(3600)),
    ];
    limiter.check("u1", &windows).await.unwrap();
    for w in &windows {
        let ttl: i64 = redis.pttl(limiter.redis_key("u1", w)).await.unwrap();
        let period = i64::try_from(w.period.as_millis()).unwrap();
        assert!(
            ttl > 0 && ttl <= period,
            "TTL {ttl} ms for a {period} ms window"
        );
    }
}

#[tokio::test]
async fn a_window_list_on_redis_holds_at_most_limit_entries() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    use fred::prelude::{ClientLike, ListInterface};
    let redis = client(&url);
    let _ = tokio::time::timeout(Duration::from_secs(5), redis.wait_for_connect()).await;
    let limiter = RedisRateLimiter::new(
        redis.clone(),
        &format!("rltest:{}:", uuid::Uuid::new_v4().simple()),
        TIMEOUT,
    );
    let windows = [window(3, Duration::from_secs(60))];
    for _ in 0..10 {
        limiter.check("u1", &windows).await.unwrap();
    }
    let len: i64 = redis
        .llen(limiter.redis_key("u1", &windows[0]))
        .await
        .unwrap();
    assert_eq!(len, 3);
}

fn assert_unavailable_without_secrets(result: Result<Decision, RateLimitError>) {
    match result {
        Err(RateLimitError::Unavailable(msg)) => {
            assert!(
                !msg.contains("s3cret") && !msg.contains("127.0.0.1"),
                "{msg}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_within_the_timeout() {
    // A port nobody listens on any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://:s3cret@127.0.0.1:{port}");
    let limiter = RedisRateLimiter::new(client(&url), "rltest:", SHORT_TIMEOUT);
    let windows = [window(20, Duration::from_secs(60))];
    let outcome = tokio::time::timeout(Duration::from_secs(5), limiter.check("u1", &windows))
        .await
        .expect("the limiter gives up by itself instead of hanging");
    assert_unavailable_without_secrets(outcome);
    let outcome = tokio::time::timeout(Duration::from_secs(5), limiter.peek("u1", &windows))
        .await
        .expect("the limiter gives up by itself instead of hanging");
    assert_unavailable_without_secrets(outcome);
}

#[tokio::test]
async fn a_redis_that_never_answers_is_unavailable_within_the_timeout() {
    // Accepts connections and reads nothing, like a stalled server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://:s3cret@{addr}");
    let limiter = RedisRateLimiter::new(client(&url), "rltest:", SHORT_TIMEOUT);
    let windows = [window(20, Duration::from_secs(60))];
    let outcome = tokio::time::timeout(Duration::from_secs(5), limiter.check("u1", &windows))
        .await
        .expect("the limiter gives up by itself instead of hanging");
    assert_unavailable_without_secrets(outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_checked_at_once_through_two_limiters_get_exactly_their_limit_each() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange: two replicas (own clients, same prefix), so checks coalesce within each and
    // race between them.
    let prefix = format!("rltest:{}:", uuid::Uuid::new_v4().simple());
    let mut replicas: Vec<Arc<dyn RateLimiter>> = Vec::new();
    for _ in 0..2 {
        let client = connected_client(&url).await;
        replicas.push(Arc::new(RedisRateLimiter::new(client, &prefix, TIMEOUT)));
    }
    let windows = [
        window(7, Duration::from_secs(60)),
        window(50, Duration::from_secs(3600)),
    ];

    // Act: 40 users × 20 checks each, all at once, spread over both replicas.
    let tasks: Vec<_> = (0..800)
        .map(|i| {
            let limiter = replicas[i % 2].clone();
            let user = format!("user_{}", i % 40);
            tokio::spawn(async move { (user.clone(), limiter.check(&user, &windows).await) })
        })
        .collect();
    let mut admitted = std::collections::HashMap::<String, u32>::new();
    for task in tasks {
        let (user, decision) = task.await.unwrap();
        if decision.expect("Redis answers").allowed {
            *admitted.entry(user).or_default() += 1;
        }
    }

    // Assert: every user got exactly the tighter window's limit, and Redis agrees.
    assert_eq!(admitted.len(), 40);
    assert!(admitted.values().all(|&n| n == 7), "{admitted:?}");
    for user in admitted.keys() {
        let seen = replicas[0].peek(user, &windows).await.unwrap();
        assert!(!seen.allowed);
        assert_eq!(
            (seen.windows[0].remaining, seen.windows[1].remaining),
            (0, 43)
        );
    }
}

#[tokio::test]
async fn a_key_redis_refuses_fails_its_own_check_only() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    use fred::prelude::KeysInterface;
    // Arrange: one user's window key holds a string, which list commands refuse.
    let limiter = Arc::new(redis_limiter(&url).await);
    let windows = [window(3, Duration::from_secs(60))];
    let redis = connected_client(&url).await;
    let _: () = redis
        .set(
            limiter.redis_key("broken", &windows[0]),
            "x",
            None,
            None,
            false,
        )
        .await
        .unwrap();

    // Act: its checks and other users' checks at once.
    let tasks: Vec<_> = ["broken", "fine", "broken", "fine"]
        .into_iter()
        .map(|user| {
            let limiter = limiter.clone();
            tokio::spawn(async move { (user, limiter.check(user, &windows).await) })
        })
        .collect();

    // Assert
    for task in tasks {
        match task.await.unwrap() {
            ("broken", outcome) => assert!(outcome.is_err(), "{outcome:?}"),
            (_, outcome) => assert!(outcome.unwrap().allowed),
        }
    }
}
