//! Quota windows and the decision a rate limiter returns.

use std::time::Duration;

/// One window of a quota: at most `limit` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Allowed requests per period.
    pub limit: u32,
    /// Length of the window.
    pub period: Duration,
}

/// Outcome of a check-and-consume against every window of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed (then it was counted in every window).
    pub allowed: bool,
    /// Index of the tightest window (fewest remaining) in the input slice.
    pub tightest: usize,
    /// Remaining requests in the tightest window.
    pub remaining: u32,
    /// Time until the tightest window is fully replenished.
    pub reset_after: Duration,
    /// When rejected: how long to wait before a retry can succeed.
    pub retry_after: Option<Duration>,
}
