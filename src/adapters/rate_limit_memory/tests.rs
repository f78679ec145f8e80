use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::MemoryRateLimiter;
use crate::domain::ports::RateLimiter;
use crate::domain::rate_limit::Window;

fn window(limit: u32, period: Duration) -> Window {
    Window { limit, period }
}

/// A limiter on a clock the test moves by hand.
fn on_fake_clock() -> (MemoryRateLimiter, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = now.clone();
    let limiter = MemoryRateLimiter::with_clock(1_000, move || clock.load(Ordering::SeqCst));
    (limiter, now)
}

async fn admitted(limiter: &MemoryRateLimiter, key: &str, windows: &[Window], n: usize) -> usize {
    let mut count = 0;
    for _ in 0..n {
        if limiter
            .check(key, windows)
            .await
            .expect("never fails")
            .allowed
        {
            count += 1;
        }
    }
    count
}

#[tokio::test]
async fn a_key_admits_its_burst_then_rejects() {
    let (limiter, _) = on_fake_clock();
    let windows = [window(5, Duration::from_secs(60))];
    assert_eq!(admitted(&limiter, "u1", &windows, 20).await, 5);
    let rejected = limiter.check("u1", &windows).await.expect("never fails");
    assert_eq!(rejected.retry_after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn requests_leave_the_window_exactly_one_period_after_they_were_admitted() {
    let (limiter, now) = on_fake_clock();
    let windows = [window(5, Duration::from_secs(60))];
    admitted(&limiter, "u1", &windows, 2).await;
    now.fetch_add(10_000_000, Ordering::SeqCst);
    admitted(&limiter, "u1", &windows, 3).await;
    now.fetch_add(49_999_999, Ordering::SeqCst);
    assert_eq!(admitted(&limiter, "u1", &windows, 5).await, 0);
    now.fetch_add(1, Ordering::SeqCst);
    assert_eq!(admitted(&limiter, "u1", &windows, 5).await, 2);
}

#[tokio::test]
async fn a_different_key_is_unaffected() {
    let (limiter, _) = on_fake_clock();
    let windows = [window(2, Duration::from_secs(60))];
    admitted(&limiter, "u1", &windows, 5).await;
    assert_eq!(admitted(&limiter, "u2", &windows, 5).await, 2);
}

#[tokio::test]
async fn a_rejection_consumes_nothing_in_any_window() {
    let (limiter, _) = on_fake_clock();
    let short = [window(1, Duration::from_secs(1))];
    let both = [short[0], window(10, Duration::from_secs(60))];
    admitted(&limiter, "u1", &both, 5).await;
    let long = limiter.peek("u1", &both[1..]).await.expect("never fails");
    assert_eq!(long.windows[0].remaining, 9);
}

#[tokio::test]
async fn peek_consumes_nothing_and_creates_no_key() {
    let (limiter, _) = on_fake_clock();
    let windows = [window(3, Duration::from_secs(60))];
    for _ in 0..5 {
        let seen = limiter.peek("u1", &windows).await.expect("never fails");
        assert_eq!((seen.allowed, seen.windows[0].remaining), (true, 3));
    }
    limiter.buckets.run_pending_tasks();
    assert_eq!(limiter.buckets.entry_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_of_one_key_admit_exactly_the_limit() {
    let limiter = Arc::new(MemoryRateLimiter::new(1_000));
    let windows = [window(20, Duration::from_secs(60))];
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.check("u1", &windows).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.expect("task ran").expect("never fails").allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 20);
}

#[tokio::test]
async fn a_key_idle_for_its_longest_window_is_dropped() {
    let limiter = MemoryRateLimiter::new(1_000);
    let windows = [
        window(1, Duration::from_millis(10)),
        window(1, Duration::from_millis(50)),
    ];
    limiter.check("u1", &windows).await.expect("never fails");
    assert!(limiter.buckets.contains_key("u1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!limiter.buckets.contains_key("u1"));
}

#[tokio::test]
async fn the_map_never_holds_more_timestamps_than_its_capacity() {
    let limiter = MemoryRateLimiter::new(100);
    let windows = [window(3, Duration::from_secs(60))];
    for i in 0..500 {
        for _ in 0..3 {
            limiter
                .check(&format!("u{i}"), &windows)
                .await
                .expect("never fails");
        }
    }
    limiter.buckets.run_pending_tasks();
    assert!(limiter.buckets.weighted_size() <= 100);
    assert!(
        limiter.buckets.entry_count() <= 20,
        "a key of 3 timestamps weighs 5"
    );
}

#[tokio::test]
async fn a_key_weighs_the_timestamps_it_holds() {
    let (limiter, _) = on_fake_clock();
    let windows = [window(100, Duration::from_secs(60))];
    admitted(&limiter, "u1", &windows, 1).await;
    limiter.buckets.run_pending_tasks();
    let light = limiter.buckets.weighted_size();
    admitted(&limiter, "u1", &windows, 99).await;
    limiter.buckets.run_pending_tasks();
    let heavy = limiter.buckets.weighted_size();
    assert!(light < 10 && heavy > 100, "{light} then {heavy}");
}
