//! Properties on random request times, checked against the definition itself: a window of `n`
//! per `W` admits a request at `t` iff fewer than `n` admitted requests lie in `(t − W, t]`.

use std::time::Duration;

use proptest::prelude::*;

use super::{Bucket, START, micros, window};
use crate::domain::rate_limit::{Window, WindowState};
use crate::domain::sliding_log::{Log, peek};

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

/// Runs the gaps through a bucket; returns it with the times of the admitted requests.
fn run(windows: &[Window], gaps: &[u64]) -> (Bucket, Vec<u64>) {
    let mut bucket = Bucket::new(windows);
    let mut admitted = Vec::new();
    for &gap in gaps {
        if bucket.advance(gap).check().allowed {
            admitted.push(bucket.now);
        }
    }
    (bucket, admitted)
}

/// Admitted requests, given by time, inside `(now − period, now]`, newest first.
fn inside(admitted: &[u64], period: u64, now: u64) -> Vec<u64> {
    admitted
        .iter()
        .rev()
        .copied()
        .filter(|&t| t + period > now)
        .collect()
}

proptest! {
    #[test]
    fn every_decision_is_the_one_the_definition_gives(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        let mut admitted: Vec<u64> = Vec::new();
        for gap in gaps {
            let now = bucket.advance(gap).now;
            let within: Vec<Vec<u64>> = windows
                .iter()
                .map(|w| inside(&admitted, micros(w.period), now))
                .collect();
            let allowed = windows
                .iter()
                .zip(&within)
                .all(|(w, inside)| inside.len() < w.limit as usize);
            let decision = bucket.check();
            prop_assert_eq!(decision.allowed, allowed);
            if allowed {
                admitted.push(now);
            }
            for (i, w) in windows.iter().enumerate() {
                let (limit, period) = (w.limit as usize, micros(w.period));
                let counted = within[i].len() + usize::from(allowed);
                let expected = WindowState {
                    remaining: u32::try_from(limit.saturating_sub(counted)).expect("small"),
                    reset_after: Duration::from_micros(
                        admitted.last().map_or(0, |&t| (t + period).saturating_sub(now)),
                    ),
                };
                prop_assert_eq!(decision.windows[i], expected, "window {}", i);
            }
            let retry = windows
                .iter()
                .zip(&within)
                .filter(|(w, inside)| inside.len() >= w.limit as usize)
                .map(|(w, inside)| inside[w.limit as usize - 1] + micros(w.period) - now)
                .max();
            prop_assert_eq!(decision.retry_after.map(micros), retry);
        }
    }

    #[test]
    fn no_window_admits_more_than_its_limit_in_any_interval_of_its_length(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let (_, admitted) = run(&windows, &gaps);
        for w in &windows {
            let period = micros(w.period);
            // The busiest half-open interval [a, a + W) starts at an admitted request.
            for (i, &start) in admitted.iter().enumerate() {
                let count = admitted[i..].iter().take_while(|&&t| t < start + period).count();
                prop_assert!(count <= w.limit as usize, "{} in [{}, +{})", count, start, period);
            }
        }
    }

    #[test]
    fn requests_at_exactly_the_limit_rate_are_never_rejected(
        limit in 1u32..1_000,
        period_ms in 1u64..100_000,
        periods in 1u64..4,
    ) {
        let mut bucket = Bucket::new(&[window(limit, period_ms)]);
        let period_us = period_ms * 1_000;
        for k in 0..periods * u64::from(limit) {
            // The k-th request of an even stream, rounded down to a whole µs.
            bucket.now = START + k * period_us / u64::from(limit);
            prop_assert!(bucket.check().allowed, "request {}", k);
        }
    }

    #[test]
    fn a_burst_of_limit_requests_is_admitted_and_the_next_one_rejected(
        windows in prop::collection::vec((1u32..2_000, 1u64..100_000), 1..=3),
    ) {
        let windows: Vec<Window> = windows.into_iter().map(|(l, p)| window(l, p)).collect();
        let burst = windows.iter().map(|w| w.limit).min().expect("one window") as usize;
        let mut bucket = Bucket::new(&windows);
        prop_assert_eq!(bucket.admitted(burst), burst);
        prop_assert!(!bucket.check().allowed);
    }

    #[test]
    fn a_rejected_request_changes_nothing(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        for gap in gaps {
            bucket.advance(gap);
            let before = bucket.logs.clone();
            let seen = bucket.peek();
            let decision = bucket.check();
            if !decision.allowed {
                prop_assert_eq!(&bucket.logs, &before);
                prop_assert_eq!(&decision, &seen);
                prop_assert!(decision.retry_after.is_some_and(|r| r > Duration::ZERO));
            }
        }
    }

    #[test]
    fn retrying_after_retry_after_succeeds_and_one_microsecond_earlier_fails(
        windows in windows_strategy(3),
        gaps in gaps_strategy(),
    ) {
        let mut bucket = Bucket::new(&windows);
        for gap in gaps {
            let decision = bucket.advance(gap).check();
            if let Some(retry) = decision.retry_after {
                let retry = micros(retry);
                let mut early = bucket.clone();
                prop_assert!(!early.advance(retry - 1).check().allowed);
                let mut on_time = bucket.clone();
                prop_assert!(on_time.advance(retry).check().allowed);
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
                .zip(&bucket.logs)
                .map(|(w, log)| peek(bucket.now, &[*w], &[log]).allowed)
                .collect();
            let before: Vec<Log> = bucket.logs.clone();
            let decision = bucket.check();
            prop_assert_eq!(decision.allowed, alone.iter().all(|&a| a));
            for (i, (old, new)) in before.iter().zip(&bucket.logs).enumerate() {
                prop_assert_eq!(new != old, decision.allowed, "window {}", i);
            }
            if !decision.allowed {
                prop_assert!(!alone[decision.tightest]);
            }
        }
    }
}
