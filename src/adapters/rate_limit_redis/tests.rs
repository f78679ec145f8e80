use std::time::Duration;

use fred::prelude::{Builder, Config};

use super::{RedisRateLimiter, decode};
use crate::domain::rate_limit::{Window, WindowState};

fn window(limit: u32, secs: u64) -> Window {
    Window {
        limit,
        period: Duration::from_secs(secs),
    }
}

fn limiter(prefix: &str) -> RedisRateLimiter {
    let client = Builder::from_config(Config::default())
        .build()
        .expect("a client needs no connection to be built");
    RedisRateLimiter::new(client, prefix, Duration::from_millis(100))
}

#[test]
fn keys_are_hash_tagged_per_user_and_name_their_window() {
    let key = limiter("rl:v1:").redis_key("user_1", &window(20, 60));
    assert_eq!(key, "rl:v1:{user_1}:20:60000");
}

#[test]
fn braces_in_a_user_key_cannot_break_the_hash_tag() {
    let key = limiter("rl:").redis_key("a}b{c", &window(1, 1));
    assert_eq!(key, "rl:{a_b_c}:1:1000");
}

#[test]
fn an_allowed_reply_decodes_into_per_window_states() {
    let windows = [window(20, 60), window(3, 1)];
    let decision = decode(&windows, &[1, 0, 19, 3_000_000, 2, 333_333]).expect("well formed");
    assert!(decision.allowed);
    assert_eq!(
        decision.windows[1],
        WindowState {
            remaining: 2,
            reset_after: Duration::from_micros(333_333),
        }
    );
    assert_eq!((decision.tightest, decision.retry_after), (1, None));
}

#[test]
fn a_rejected_reply_keeps_the_scripts_retry_after() {
    let windows = [window(20, 60), window(3, 1)];
    let decision = decode(&windows, &[0, 250, 19, 0, 0, 1_000_000]).expect("well formed");
    assert!(!decision.allowed);
    assert_eq!(decision.tightest, 1);
    assert_eq!(decision.retry_after, Some(Duration::from_micros(250)));
}

#[test]
fn a_reply_of_the_wrong_shape_is_refused() {
    let windows = [window(20, 60)];
    assert!(decode(&windows, &[1, 0, 19]).is_none());
    assert!(decode(&windows, &[1]).is_none());
    assert!(decode(&windows, &[1, 0, -1, 5]).is_none());
}

#[tokio::test]
async fn no_windows_means_allowed_without_asking_redis() {
    use crate::domain::ports::RateLimiter;
    let decision = limiter("rl:")
        .check("user", &[])
        .await
        .expect("no Redis call");
    assert!(decision.allowed);
}
