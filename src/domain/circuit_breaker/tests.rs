//! Unit tests of the circuit breaker's transitions.

use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn breaker() -> CircuitBreaker {
    CircuitBreaker::new(BreakerSettings {
        failure_threshold: 3,
        cool_off: Duration::from_secs(30),
        max_open: Duration::from_secs(3_600),
    })
}

fn fail(b: &mut CircuitBreaker, now: Instant, times: u32) {
    for _ in 0..times {
        assert_eq!(b.admit(now), Admission::Allowed);
        b.record(now, CallOutcome::Failure);
    }
}

#[test]
fn the_circuit_opens_after_the_threshold_of_consecutive_failures() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 2);
    assert_eq!(b.admit(t0), Admission::Allowed);

    let open_for = b.record(t0, CallOutcome::Failure);

    assert_eq!(open_for, Some(Duration::from_secs(30)));
    assert_eq!(
        b.admit(t0 + 10 * SECOND),
        Admission::Rejected {
            retry_after: 20 * SECOND
        }
    );
}

#[test]
fn a_success_resets_the_count_of_consecutive_failures() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 2);
    b.admit(t0);
    b.record(t0, CallOutcome::Success);
    fail(&mut b, t0, 2);

    assert_eq!(b.admit(t0), Admission::Allowed);
}

#[test]
fn a_throttling_answer_opens_at_once_for_the_time_the_upstream_asked() {
    let t0 = Instant::now();
    let mut b = breaker();
    b.admit(t0);

    b.record(
        t0,
        CallOutcome::Throttled {
            retry_after: Some(Duration::from_secs(120)),
        },
    );

    assert!(b.is_open(t0 + 119 * SECOND));
    assert_eq!(
        b.admit(t0 + 100 * SECOND),
        Admission::Rejected {
            retry_after: 20 * SECOND
        }
    );
    assert_eq!(b.admit(t0 + 120 * SECOND), Admission::Probe);
}

#[test]
fn a_throttling_answer_without_a_hint_opens_for_the_cool_off() {
    let t0 = Instant::now();
    let mut b = breaker();
    b.admit(t0);

    let open_for = b.record(t0, CallOutcome::Throttled { retry_after: None });

    assert_eq!(open_for, Some(Duration::from_secs(30)));
}

#[test]
fn an_upstream_hint_longer_than_the_maximum_is_capped() {
    let t0 = Instant::now();
    let mut b = breaker();
    b.admit(t0);

    let open_for = b.record(
        t0,
        CallOutcome::Throttled {
            retry_after: Some(Duration::from_secs(86_400 * 365)),
        },
    );

    assert_eq!(open_for, Some(Duration::from_secs(3_600)));
    assert!(!b.is_open(t0 + 3_600 * SECOND));
}

#[test]
fn after_the_cool_off_exactly_one_probe_is_let_through() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 3);
    let later = t0 + 31 * SECOND;

    assert_eq!(b.admit(later), Admission::Probe);
    assert_eq!(
        b.admit(later),
        Admission::Rejected {
            retry_after: SECOND
        }
    );
}

#[test]
fn a_successful_probe_closes_the_circuit() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 3);
    let later = t0 + 31 * SECOND;
    b.admit(later);

    b.record(later, CallOutcome::Success);

    assert_eq!(b.admit(later), Admission::Allowed);
}

#[test]
fn a_failed_probe_opens_the_circuit_again() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 3);
    let later = t0 + 31 * SECOND;
    b.admit(later);

    b.record(later, CallOutcome::Failure);

    assert!(b.is_open(later + 29 * SECOND));
}

#[test]
fn an_abandoned_probe_lets_the_next_caller_probe() {
    let t0 = Instant::now();
    let mut b = breaker();
    fail(&mut b, t0, 3);
    let later = t0 + 31 * SECOND;
    b.admit(later);

    b.record(later, CallOutcome::Abandoned);

    assert_eq!(b.admit(later), Admission::Probe);
}

#[test]
fn late_answers_do_not_close_or_shorten_an_open_circuit() {
    let t0 = Instant::now();
    let mut b = breaker();
    b.admit(t0);
    b.record(
        t0,
        CallOutcome::Throttled {
            retry_after: Some(Duration::from_secs(600)),
        },
    );

    b.record(t0, CallOutcome::Success);
    b.record(
        t0,
        CallOutcome::Throttled {
            retry_after: Some(Duration::from_secs(5)),
        },
    );

    assert!(b.is_open(t0 + 599 * SECOND));
}

#[test]
fn a_threshold_of_zero_behaves_as_one() {
    let t0 = Instant::now();
    let mut b = CircuitBreaker::new(BreakerSettings {
        failure_threshold: 0,
        ..BreakerSettings::default()
    });
    fail(&mut b, t0, 1);

    assert!(b.is_open(t0));
}
