use std::time::Duration;

use proptest::prelude::*;

use super::{check, intervals, peek};
use crate::domain::rate_limit::{Decision, Window, WindowState};

const SECOND: u64 = 1_000_000;
const START: u64 = 1_700_000_000 * SECOND;

fn window(limit: u32, period_ms: u64) -> Window {
    Window {
        limit,
        period: Duration::from_millis(period_ms),
    }
}

/// A bucket on a controllable clock: the stored TATs plus the current time in µs.
struct Bucket {
    windows: Vec<Window>,
    tats: Vec<u64>,
    now: u64,
}

impl Bucket {
    fn new(windows: &[Window]) -> Self {
        Self {
            windows: windows.to_vec(),
            tats: vec![0; windows.len()],
            now: START,
        }
    }

    fn advance(&mut self, us: u64) -> &mut Self {
        self.now += us;
        self
    }

    fn check(&mut self) -> Decision {
        let (decision, tats) = check(self.now, &self.windows, &self.tats);
        self.tats = tats;
        decision
    }

    fn peek(&self) -> Decision {
        peek(self.now, &self.windows, &self.tats)
    }

    fn admitted(&mut self, n: usize) -> usize {
        (0..n).filter(|_| self.check().allowed).count()
    }
}

fn state(remaining: u32, reset_us: u64) -> WindowState {
    WindowState {
        remaining,
        reset_after: Duration::from_micros(reset_us),
    }
}

#[test]
fn a_fresh_key_admits_a_burst_of_exactly_limit_requests() {
    let mut bucket = Bucket::new(&[window(20, 60_000)]);
    assert_eq!(bucket.admitted(100), 20);
}

#[test]
fn each_check_reports_remaining_and_reset_after_like_the_table() {
    // 4 per second: T = 250 ms. (advance before the check in µs, allowed, remaining, reset µs)
    let cases = [
        (0, true, 3, 250_000),
        (0, true, 2, 500_000),
        (0, true, 1, 750_000),
        (0, true, 0, SECOND),
        (0, false, 0, SECOND),
        (249_999, false, 0, 750_001),
        (1, true, 0, SECOND),
        (2 * SECOND, true, 3, 250_000),
    ];
    let mut bucket = Bucket::new(&[window(4, 1_000)]);
    for (i, (advance, allowed, remaining, reset)) in cases.into_iter().enumerate() {
        let decision = bucket.advance(advance).check();
        assert_eq!(
            (decision.allowed, decision.windows[0]),
            (allowed, state(remaining, reset)),
            "case {i}"
        );
    }
}

#[test]
fn a_full_burst_is_followed_by_one_request_per_emission_interval() {
    let mut bucket = Bucket::new(&[window(4, 1_000)]);
    assert_eq!(bucket.admitted(10), 4);
    for _ in 0..8 {
        assert_eq!(bucket.advance(250_000).admitted(3), 1);
    }
}

#[test]
fn retry_after_is_exactly_the_wait_until_the_next_request_conforms() {
    let mut bucket = Bucket::new(&[window(3, 1_000)]);
    bucket.admitted(3);
    let retry = bucket
        .check()
        .retry_after
        .expect("a rejection says when to retry");
    let retry_us = u64::try_from(retry.as_micros()).expect("small");
    assert!(!bucket.advance(retry_us - 1).check().allowed);
    assert!(bucket.advance(1).check().allowed);
}

#[test]
fn a_window_is_fully_replenished_after_reset_after() {
    let mut bucket = Bucket::new(&[window(5, 10_000)]);
    bucket.admitted(3);
    let reset = bucket.check().windows[0].reset_after;
    bucket.advance(u64::try_from(reset.as_micros()).expect("small"));
    assert_eq!(bucket.peek().windows[0], state(5, 0));
}

#[test]
fn peek_consumes_nothing_and_agrees_with_the_next_check() {
    let mut bucket = Bucket::new(&[window(2, 1_000), window(10, 60_000)]);
    for _ in 0..4 {
        let before = bucket.tats.clone();
        let seen = bucket.peek();
        assert_eq!(bucket.tats, before);
        assert_eq!(seen.allowed, bucket.check().allowed);
    }
}

#[test]
fn a_rejected_check_reports_the_same_as_a_peek() {
    let mut bucket = Bucket::new(&[window(1, 1_000)]);
    bucket.check();
    let seen = bucket.peek();
    assert_eq!(bucket.check(), seen);
}

#[test]
fn a_limit_that_does_not_divide_the_period_still_bursts_exactly_limit() {
    for (limit, period_ms) in [(3, 1_000), (7, 1_000), (1_500, 1_000), (999_999, 1_000)] {
        let mut bucket = Bucket::new(&[window(limit, period_ms)]);
        let n = usize::try_from(limit).expect("small");
        assert_eq!(bucket.admitted(n + 5), n, "{limit} per {period_ms} ms");
    }
}

#[test]
fn a_limit_above_the_microseconds_of_the_period_admits_one_request_per_microsecond() {
    let mut bucket = Bucket::new(&[window(5_000, 1)]);
    assert_eq!(intervals(&bucket.windows[0]), (1, 5_000));
    assert_eq!(bucket.admitted(6_000), 5_000);
}

#[test]
fn a_limit_of_zero_is_treated_as_one() {
    let mut bucket = Bucket::new(&[window(0, 1_000)]);
    assert_eq!(bucket.admitted(3), 1);
}

#[test]
fn an_empty_list_of_windows_always_allows() {
    let (decision, tats) = check(START, &[], &[]);
    assert!(decision.allowed && decision.windows.is_empty() && tats.is_empty());
}

#[test]
fn missing_tats_count_as_a_window_never_used() {
    let windows = [window(2, 1_000), window(5, 1_000)];
    let (decision, tats) = check(START, &windows, &[]);
    assert!(decision.allowed);
    assert_eq!(tats, vec![START + 500_000, START + 200_000]);
}

#[test]
fn the_tightest_window_is_the_one_with_fewest_remaining() {
    let mut bucket = Bucket::new(&[window(100, 3_600_000), window(3, 1_000)]);
    let decision = bucket.check();
    assert_eq!((decision.tightest, decision.retry_after), (1, None));
}

#[test]
fn a_tie_on_remaining_goes_to_the_shorter_period() {
    let mut bucket = Bucket::new(&[window(3, 60_000), window(3, 1_000)]);
    assert_eq!(bucket.check().tightest, 1);
}

#[test]
fn the_tightest_window_of_a_rejection_is_the_one_that_rejected() {
    let mut bucket = Bucket::new(&[window(2, 1_000), window(3, 60_000)]);
    bucket.admitted(2);
    let decision = bucket.check();
    assert!(!decision.allowed);
    assert_eq!(decision.tightest, 0);
    assert_eq!(decision.retry_after, Some(Duration::from_millis(500)));
    assert_eq!(decision.windows[1], state(1, 40 * SECOND));
}

#[test]
fn when_several_windows_reject_retry_after_is_the_longest_wait() {
    let mut bucket = Bucket::new(&[window(2, 1_000), window(2, 60_000)]);
    bucket.admitted(2);
    let decision = bucket.check();
    assert_eq!(decision.tightest, 1);
    assert_eq!(decision.retry_after, Some(Duration::from_secs(30)));
}

fn windows_strategy(max: usize) -> impl Strategy<Value = Vec<Window>> {
    prop::collection::vec((1u32..12, 1u64..5_000), 1..=max)
        .prop_map(|ws| ws.into_iter().map(|(l, p)| window(l, p)).collect())
}

/// Gaps between requests in µs: many simultaneous, some short, some long.
fn gaps_strategy() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![Just(0u64), 0u64..2_000, 0u64..400_000, 0u64..6_000_000],
        1..300,
    )
}

proptest! {
    #[test]
    fn no_window_admits_more_than_its_burst_plus_its_rate_over_any_span(
        windows in windows_strategy(1),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        let mut times = Vec::new();
        for gap in gaps {
            if bucket.advance(gap).check().allowed {
                times.push(bucket.now);
            }
        }
        let (emission, _) = intervals(&windows[0]);
        let limit = u64::from(windows[0].limit);
        for i in 0..times.len() {
            for j in i..times.len() {
                let admitted = u64::try_from(j - i + 1).expect("small");
                let span = times[j] - times[i];
                prop_assert!(admitted <= limit + span / emission);
                // Equivalently, never more than `limit` within one emission interval, and
                // never more than twice `limit` within one period.
                if span < emission {
                    prop_assert!(admitted <= limit);
                }
                if span < u64::try_from(windows[0].period.as_micros()).expect("small") {
                    prop_assert!(admitted <= 2 * limit);
                }
            }
        }
    }

    #[test]
    fn requests_at_exactly_the_steady_rate_are_never_rejected(
        limit in 1u32..1_000,
        period_ms in 1u64..100_000,
        count in 1u64..500,
    ) {
        let mut bucket = Bucket::new(&[window(limit, period_ms)]);
        let period_us = period_ms * 1_000;
        for k in 0..count {
            // The k-th request of a steady stream, rounded down to a whole µs.
            bucket.now = START + k * period_us / u64::from(limit);
            prop_assert!(bucket.check().allowed, "request {k}");
        }
    }

    #[test]
    fn a_rejected_request_changes_nothing(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        for gap in gaps {
            bucket.advance(gap);
            let before = bucket.tats.clone();
            let seen = bucket.peek();
            let decision = bucket.check();
            if !decision.allowed {
                prop_assert_eq!(&bucket.tats, &before);
                prop_assert_eq!(&decision, &seen);
                prop_assert!(decision.retry_after.is_some_and(|r| r > Duration::ZERO));
            }
        }
    }

    #[test]
    fn a_request_is_allowed_only_when_every_window_allows(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        for gap in gaps {
            bucket.advance(gap);
            let alone: Vec<bool> = windows
                .iter()
                .zip(&bucket.tats)
                .map(|(w, &tat)| peek(bucket.now, &[*w], &[tat]).allowed)
                .collect();
            let before = bucket.tats.clone();
            let decision = bucket.check();
            prop_assert_eq!(decision.allowed, alone.iter().all(|&a| a));
            for (i, (old, new)) in before.iter().zip(&bucket.tats).enumerate() {
                prop_assert_eq!(new > old, decision.allowed, "window {}", i);
            }
            if !decision.allowed {
                prop_assert!(!alone[decision.tightest]);
            }
        }
    }
}
