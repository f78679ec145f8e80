use std::time::Duration;

use fred::prelude::{Builder, Config};

use super::{BAD_REPLY, RedisRateLimiter, decode, decode_batch};
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
    let key = limiter("rl:v2:").redis_key("user_1", &window(20, 60));
    assert_eq!(key, "rl:v2:{user_1}:20:60000");
}

#[test]
fn braces_in_a_user_key_cannot_break_the_hash_tag() {
    let key = limiter("rl:").redis_key("a}b{c", &window(1, 1));
    assert_eq!(key, "rl:{a_b_c}:1:1000");
}

#[test]
fn an_allowed_reply_decodes_into_per_window_states() {
    let windows = [window(20, 60), window(3, 1)];
    let decision = decode(&windows, &[1, 19, 60_000_000, 0, 2, 1_000_000, 0]).expect("well formed");
    assert!(decision.allowed);
    assert_eq!(
        decision.windows[1],
        WindowState {
            remaining: 2,
            reset_after: Duration::from_secs(1),
        }
    );
    assert_eq!((decision.tightest, decision.retry_after), (1, None));
}

#[test]
fn a_rejected_reply_takes_the_longest_wait_of_the_rejecting_windows() {
    let windows = [window(20, 60), window(3, 1), window(5, 3_600)];
    let reply = [
        0,
        19,
        59_000_000,
        0,
        0,
        1_000_000,
        250,
        0,
        3_000_000_000,
        90_000_000,
    ];
    let decision = decode(&windows, &reply).expect("well formed");
    assert!(!decision.allowed);
    assert_eq!(decision.tightest, 2);
    assert_eq!(decision.retry_after, Some(Duration::from_secs(90)));
}

#[test]
fn a_reply_of_the_wrong_shape_is_refused() {
    let windows = [window(20, 60)];
    assert!(decode(&windows, &[1, 19, 0]).is_none());
    assert!(decode(&windows, &[1]).is_none());
    assert!(decode(&windows, &[]).is_none());
    assert!(decode(&windows, &[1, -1, 5, 0]).is_none());
    assert!(decode(&windows, &[0, 0, 5, -3]).is_none());
}

#[test]
fn a_batch_reply_splits_into_one_decision_per_check_in_order() {
    let one = [window(20, 60)];
    let two = [window(20, 60), window(3, 1)];
    let reply = [
        1, 19, 60_000_000, 0,  // first check: one window, allowed
        -1, // second: refused by Redis
        0, 0, 5, 7, 2, 1_000_000, 0, // third: two windows, rejected
    ];
    let decisions = decode_batch(&[&one, &two, &two], &reply);
    assert_eq!(decisions.len(), 3);
    assert!(decisions[0].as_ref().unwrap().allowed);
    assert_eq!(decisions[1], Err("command refused"));
    let third = decisions[2].as_ref().unwrap();
    assert_eq!((third.allowed, third.tightest), (false, 0));
}

#[test]
fn a_batch_reply_of_the_wrong_length_fails_every_check() {
    let one = [window(20, 60)];
    for reply in [&[1, 19, 0, 0, 1][..], &[1, 19, 0, 0, 1, 19, 0, 0, 9], &[]] {
        let decisions = decode_batch(&[&one, &one], reply);
        assert_eq!(decisions, vec![Err(BAD_REPLY), Err(BAD_REPLY)], "{reply:?}");
    }
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
