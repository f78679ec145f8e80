use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::adapters::rate_limit_memory::MemoryRateLimiter;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limiter(limit: u32, clock: Arc<AtomicU64>) -> Arc<PreauthLimiter> {
    let windows = vec![Window {
        limit,
        period: Duration::from_secs(60),
    }];
    let counts = MemoryRateLimiter::with_clock(10_000, move || clock.load(Ordering::SeqCst));
    Arc::new(PreauthLimiter::new(windows, Arc::new(counts), None))
}

#[test]
fn ipv6_addresses_of_one_64_share_a_key_and_mapped_ipv4_is_ipv4() {
    assert_eq!(
        client_key(ip("2001:db8:1:2:aaaa::1")),
        client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    );
    assert_eq!(client_key(ip("2001:db8:1:2::9")), "2001:db8:1:2::/64");
    assert_ne!(
        client_key(ip("2001:db8:1:2::1")),
        client_key(ip("2001:db8:1:3::1"))
    );
    assert_eq!(client_key(ip("::ffff:198.51.100.7")), "198.51.100.7");
    assert_eq!(client_key(ip("198.51.100.7")), "198.51.100.7");
}

#[tokio::test]
async fn refused_attempts_spend_the_budget_and_successes_do_not() {
    let clock = Arc::new(AtomicU64::new(1));
    let limiter = limiter(3, clock.clone());
    for _ in 0..10 {
        drop(limiter.admit("a").await.expect("successes never spend"));
    }
    for _ in 0..3 {
        limiter
            .admit("a")
            .await
            .expect("within budget")
            .refused()
            .await;
    }
    let over = limiter.admit("a").await.err().expect("over budget");
    assert_eq!(over.limit, 3);
    assert_eq!(over.window, "minute");
    assert!(over.retry_after > Duration::ZERO && over.retry_after <= Duration::from_secs(60));
    drop(
        limiter
            .admit("b")
            .await
            .expect("another address has its own budget"),
    );
    clock.store(61_000_000, Ordering::SeqCst);
    drop(
        limiter
            .admit("a")
            .await
            .expect("the window slid past the refusals"),
    );
}

#[tokio::test]
async fn attempts_in_flight_count_against_the_budget_until_they_end() {
    let limiter = limiter(2, Arc::new(AtomicU64::new(1)));
    let first = limiter.admit("a").await.expect("first");
    let second = limiter.admit("a").await.expect("second");
    assert!(
        limiter.admit("a").await.is_err(),
        "two in flight hold the budget"
    );
    first.refused().await;
    assert!(
        limiter.admit("a").await.is_err(),
        "one spent, one in flight"
    );
    drop(second);
    let third = limiter.admit("a").await.expect("one unit left");
    drop(third);
    assert!(
        limiter.in_flight.lock().unwrap().is_empty(),
        "no entry outlives its attempts"
    );
}

#[tokio::test]
async fn an_empty_budget_is_unlimited() {
    let limiter = Arc::new(PreauthLimiter::new(
        Vec::new(),
        Arc::new(MemoryRateLimiter::new(10)),
        None,
    ));
    for _ in 0..100 {
        limiter.admit("a").await.expect("unlimited").refused().await;
    }
}
