mod properties;

use std::time::Duration;

use super::{Log, check, peek};
use crate::domain::rate_limit::{Decision, Window, WindowState};

const SECOND: u64 = 1_000_000;
const START: u64 = 1_700_000_000 * SECOND;

fn window(limit: u32, period_ms: u64) -> Window {
    Window {
        limit,
        period: Duration::from_millis(period_ms),
    }
}

/// A bucket on a controllable clock: the stored logs plus the current time in µs.
#[derive(Clone)]
struct Bucket {
    windows: Vec<Window>,
    logs: Vec<Log>,
    now: u64,
}

impl Bucket {
    fn new(windows: &[Window]) -> Self {
        Self {
            windows: windows.to_vec(),
            logs: vec![Log::new(); windows.len()],
            now: START,
        }
    }

    fn advance(&mut self, us: u64) -> &mut Self {
        self.now += us;
        self
    }

    fn check(&mut self) -> Decision {
        check(self.now, &self.windows, &mut self.logs)
    }

    fn peek(&self) -> Decision {
        peek(self.now, &self.windows, &self.logs)
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

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).expect("small")
}

#[test]
fn a_fresh_key_admits_a_burst_of_exactly_limit_requests() {
    let mut bucket = Bucket::new(&[window(20, 60_000)]);
    assert_eq!(bucket.admitted(100), 20);
}

#[test]
fn each_check_reports_remaining_reset_and_retry_like_the_table() {
    // 4 per second. (advance before the check in µs, allowed, remaining, reset µs, retry µs)
    let cases = [
        (0, true, 3, SECOND, None),
        (0, true, 2, SECOND, None),
        (300_000, true, 1, SECOND, None),
        (0, true, 0, SECOND, None),
        (0, false, 0, SECOND, Some(700_000)),
        (699_999, false, 0, 300_001, Some(1)),
        // The two requests at 0 have left the window: two places free up at once.
        (1, true, 1, SECOND, None),
        (0, true, 0, SECOND, None),
        (0, false, 0, SECOND, Some(300_000)),
        (2 * SECOND, true, 3, SECOND, None),
    ];
    let mut bucket = Bucket::new(&[window(4, 1_000)]);
    for (i, (advance, allowed, remaining, reset, retry)) in cases.into_iter().enumerate() {
        let decision = bucket.advance(advance).check();
        assert_eq!(
            (decision.allowed, decision.windows[0]),
            (allowed, state(remaining, reset)),
            "case {i}"
        );
        assert_eq!(decision.retry_after.map(micros), retry, "case {i}");
    }
}

#[test]
fn after_a_full_burst_nothing_passes_until_the_burst_leaves_the_window() {
    // GCRA would admit one more request every 250 ms here: 8 within one second.
    let mut bucket = Bucket::new(&[window(4, 1_000)]);
    assert_eq!(bucket.admitted(10), 4);
    for _ in 0..3 {
        assert_eq!(bucket.advance(250_000).admitted(3), 0);
    }
    assert_eq!(bucket.advance(249_999).admitted(1), 0);
    assert_eq!(bucket.advance(1).admitted(10), 4);
}

#[test]
fn retry_after_is_exactly_the_wait_until_the_next_request_is_allowed() {
    let mut bucket = Bucket::new(&[window(3, 1_000)]);
    bucket.admitted(1);
    bucket.advance(400_000).admitted(2);
    let retry = bucket
        .check()
        .retry_after
        .expect("a rejection says when to retry");
    assert_eq!(micros(retry), 600_000);
    assert!(!bucket.advance(micros(retry) - 1).check().allowed);
    assert!(bucket.advance(1).check().allowed);
}

#[test]
fn a_window_is_fully_replenished_after_reset_after() {
    let mut bucket = Bucket::new(&[window(5, 10_000)]);
    bucket.admitted(2);
    let reset = bucket.advance(3 * SECOND).check().windows[0].reset_after;
    assert_eq!(reset, Duration::from_secs(10));
    bucket.advance(micros(reset) - 1);
    assert_eq!(bucket.peek().windows[0], state(4, 1));
    bucket.advance(1);
    assert_eq!(bucket.peek().windows[0], state(5, 0));
}

#[test]
fn peek_consumes_nothing_and_agrees_with_the_next_check() {
    let mut bucket = Bucket::new(&[window(2, 1_000), window(10, 60_000)]);
    for _ in 0..4 {
        let before = bucket.logs.clone();
        let seen = bucket.peek();
        assert_eq!(bucket.logs, before);
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
fn a_log_keeps_at_most_limit_entries_and_only_those_of_the_last_period() {
    let mut bucket = Bucket::new(&[window(3, 1_000)]);
    for step in 0..50u64 {
        bucket.advance(step * 37_000 % 400_000).admitted(2);
        let log = &bucket.logs[0];
        assert!(log.len() <= 3, "step {step}: {log:?}");
        assert!(log.iter().all(|&t| t + SECOND > bucket.now), "step {step}");
    }
}

#[test]
fn a_limit_of_zero_is_treated_as_one() {
    let mut bucket = Bucket::new(&[window(0, 1_000)]);
    assert_eq!(bucket.admitted(3), 1);
}

#[test]
fn a_large_limit_admits_exactly_its_burst() {
    let mut bucket = Bucket::new(&[window(5_000, 1)]);
    assert_eq!(bucket.admitted(6_000), 5_000);
    assert_eq!(bucket.advance(1_000).admitted(6_000), 5_000);
}

#[test]
fn an_empty_list_of_windows_always_allows() {
    let mut logs = Vec::new();
    let decision = check(START, &[], &mut logs);
    assert!(decision.allowed && decision.windows.is_empty() && logs.is_empty());
}

#[test]
fn missing_logs_count_as_a_window_never_used() {
    let windows = [window(2, 1_000), window(5, 1_000)];
    assert!(peek::<Log>(START, &windows, &[]).allowed);
    let mut logs = Vec::new();
    assert!(check(START, &windows, &mut logs).allowed);
    assert_eq!(logs, vec![Log::from([START]), Log::from([START])]);
}

#[test]
fn a_clock_that_goes_back_is_read_as_the_newest_stored_time() {
    let mut bucket = Bucket::new(&[window(2, 1_000)]);
    bucket.advance(SECOND).check();
    bucket.now -= 10;
    let decision = bucket.check();
    assert!(decision.allowed);
    assert_eq!(decision.windows[0], state(0, SECOND));
    assert_eq!(bucket.logs[0], Log::from([START + SECOND, START + SECOND]));
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
    let decision = bucket.advance(200_000).check();
    assert!(!decision.allowed);
    assert_eq!(decision.tightest, 0);
    assert_eq!(decision.retry_after, Some(Duration::from_millis(800)));
    assert_eq!(decision.windows[1], state(1, 59_800_000));
}

#[test]
fn when_several_windows_reject_retry_after_is_the_longest_wait() {
    let mut bucket = Bucket::new(&[window(2, 1_000), window(2, 60_000)]);
    bucket.admitted(2);
    let decision = bucket.check();
    assert_eq!(decision.tightest, 1);
    assert_eq!(decision.retry_after, Some(Duration::from_secs(60)));
}
