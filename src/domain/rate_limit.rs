//! Quota windows and the decision a rate limiter returns (GCRA arithmetic lives in `gcra`).

use std::time::Duration;

/// One window of a quota: at most `limit` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Allowed requests per period (at least 1).
    pub limit: u32,
    /// Length of the window.
    pub period: Duration,
}

/// State of one window for a key, after a check (or at a peek).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    /// Requests that could still be made now in this window.
    pub remaining: u32,
    /// Time until this window is fully replenished.
    pub reset_after: Duration,
}

/// Outcome of a check-and-consume against every window of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed (then it was counted in every window; a rejected
    /// request consumes nothing).
    pub allowed: bool,
    /// One state per input window, in the same order.
    pub windows: Vec<WindowState>,
    /// Index of the tightest window: the one that rejected, else the one with the fewest
    /// remaining requests (ties: the shorter period).
    pub tightest: usize,
    /// When rejected: how long until a retry can succeed.
    pub retry_after: Option<Duration>,
}
