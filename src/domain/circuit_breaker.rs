//! A circuit breaker as a pure state machine: callers ask before each upstream call, report
//! how it went, and pass the time in, so the rules are testable without clocks or I/O.

use std::time::{Duration, Instant};

/// Tuning of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open after failures, or after a refusal without a hint.
    pub cool_off: Duration,
    /// Longest the circuit stays open, whatever the upstream asks; a hostile or broken
    /// `Retry-After` must not take the source away for days.
    pub max_open: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_off: Duration::from_secs(30),
            max_open: Duration::from_secs(3_600),
        }
    }
}

/// What the breaker says about a call about to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: call.
    Allowed,
    /// Half-open: this call is the one probe; its outcome closes or reopens the circuit.
    Probe,
    /// Open (or a probe is under way): do not call; try again after this long.
    Rejected {
        /// Time until the breaker admits a call again (at least one second while probing).
        retry_after: Duration,
    },
}

/// How an admitted call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The upstream answered (an answer of "no such thing" included).
    Success,
    /// The upstream failed or timed out.
    Failure,
    /// The upstream refused for its rate limit; `retry_after` is its hint, when it gave one.
    Throttled {
        /// How long the upstream asked to be left alone.
        retry_after: Option<Duration>,
    },
    /// The caller went away before the call ended (a cancelled probe frees its slot).
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Closed → (threshold failures, or one throttling answer) → Open until a deadline → HalfOpen:
/// one probe → Closed on success, Open again on failure.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: State,
}

/// While a probe runs, callers are told to come back after this long.
const PROBE_RETRY: Duration = Duration::from_secs(1);

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings: BreakerSettings {
                failure_threshold: settings.failure_threshold.max(1),
                ..settings
            },
            state: State::Closed { failures: 0 },
        }
    }

    /// Whether a call may be made at `now`.
    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now < until => Admission::Rejected {
                retry_after: until - now,
            },
            State::Open { .. } | State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Admission::Probe
            }
            State::HalfOpen { probing: true } => Admission::Rejected {
                retry_after: PROBE_RETRY,
            },
        }
    }

    /// Records how an admitted call went at `now`; returns the time the circuit stays open
    /// when this outcome opened (or kept open) it.
    pub fn record(&mut self, now: Instant, outcome: CallOutcome) -> Option<Duration> {
        match (self.state, outcome) {
            (_, CallOutcome::Throttled { retry_after }) => {
                let open_for = retry_after
                    .unwrap_or(self.settings.cool_off)
                    .min(self.settings.max_open);
                let until = now + open_for;
                // A late answer from before the circuit opened must not shorten it.
                let until = match self.state {
                    State::Open { until: current } => current.max(until),
                    _ => until,
                };
                self.state = State::Open { until };
                Some(until - now)
            }
            (State::HalfOpen { .. } | State::Closed { .. }, CallOutcome::Success) => {
                self.state = State::Closed { failures: 0 };
                None
            }
            (State::HalfOpen { .. }, CallOutcome::Failure) => self.open(now),
            (State::HalfOpen { .. }, CallOutcome::Abandoned) => {
                self.state = State::HalfOpen { probing: false };
                None
            }
            (State::Closed { failures }, CallOutcome::Failure) => {
                let failures = failures.saturating_add(1);
                if failures >= self.settings.failure_threshold {
                    self.open(now)
                } else {
                    self.state = State::Closed { failures };
                    None
                }
            }
            // Answers of calls admitted before the circuit opened change nothing.
            (State::Open { .. }, _) | (State::Closed { .. }, CallOutcome::Abandoned) => None,
        }
    }

    /// Whether calls are being refused at `now` (open, not yet due for a probe).
    pub fn is_open(&self, now: Instant) -> bool {
        matches!(self.state, State::Open { until } if now < until)
    }

    fn open(&mut self, now: Instant) -> Option<Duration> {
        self.state = State::Open {
            until: now + self.settings.cool_off,
        };
        Some(self.settings.cool_off)
    }
}

#[cfg(test)]
mod tests;
