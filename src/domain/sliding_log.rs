//! Exact quotas over sliding windows (a sliding log per window): pure arithmetic.
//!
//! A window of `n` requests per period `W` keeps the times of the requests it admitted (µs since
//! the Unix epoch, oldest first). A request at `now` is allowed by the window when fewer than `n`
//! of them lie in `(now − W, now]`, i.e. when the log holds fewer than `n` entries or its `n`-th
//! newest is at most `now − W`. A request is allowed only when every window of its bucket allows
//! it; then `now` is appended to every window's log. A rejected request records nothing.
//!
//! The guarantee is exact: in any interval of length `W`, wherever it starts, a window admits at
//! most `n` requests, and a client sending exactly `n` requests per `W`, evenly spaced, is never
//! refused. This replaced GCRA, which keeps one number per window but admits a burst of `n` and
//! then one request every `W / n`, so about `2n` can pass in one sliding period. The quotas
//! promise "n per minute" for every minute, which GCRA keeps only on average.
//!
//! The price is memory: a window keeps at most `n` timestamps per key, and only those of the
//! last `W`. `500/day` is therefore up to 500 numbers (4 KB) per user, where GCRA kept one. A
//! check costs O(log n) here. The Redis script (`adapters::rate_limit_redis`) applies the same
//! rules to Redis lists with amortised O(1) list operations.
//!
//! Time is always a parameter; nothing here reads a clock. A `now` earlier than the newest stored
//! time is taken as that time, so a log stays sorted whatever the clock does.

#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::time::Duration;

use super::rate_limit::{Decision, Window, WindowState};

/// Times (µs since the Unix epoch) of the requests one window admitted, oldest first.
pub type Log = VecDeque<u64>;

/// What one window says about a request, consuming nothing.
struct Verdict {
    state: WindowState,
    /// How long the window keeps rejecting; zero when it allows.
    retry: Duration,
}

/// The limit (a limit of 0 counts as 1, so nothing divides by it or admits nothing forever) and
/// the period in µs of a window.
fn bounds(window: &Window) -> (usize, u64) {
    let limit = usize::try_from(window.limit.max(1)).unwrap_or(usize::MAX);
    let period = u64::try_from(window.period.as_micros()).unwrap_or(u64::MAX);
    (limit, period)
}

/// Entries of `log` in `(now − period, now]`, given that none is later than `now`.
fn live(log: &Log, period: u64, now: u64) -> usize {
    log.len() - log.partition_point(|&t| t.saturating_add(period) <= now)
}

fn judge(now: u64, window: &Window, log: &Log) -> Verdict {
    let (limit, period) = bounds(window);
    let count = live(log, period, now);
    let leaves = |t: u64| t.saturating_add(period).saturating_sub(now);
    // The window is full until its n-th newest entry leaves it.
    let retry = if count >= limit {
        log.len()
            .checked_sub(limit)
            .and_then(|i| log.get(i))
            .map_or(0, |&t| leaves(t))
    } else {
        0
    };
    Verdict {
        state: WindowState {
            remaining: u32::try_from(limit.saturating_sub(count)).unwrap_or(u32::MAX),
            reset_after: Duration::from_micros(log.back().map_or(0, |&t| leaves(t))),
        },
        retry: Duration::from_micros(retry),
    }
}

/// The time a decision is taken at: `now_us`, or the newest stored time if the clock went back.
fn effective_now<L: Borrow<Log>>(now_us: u64, logs: &[L]) -> u64 {
    logs.iter()
        .filter_map(|log| log.borrow().back().copied())
        .fold(now_us, u64::max)
}

/// Reports what a check at `now_us` would decide, consuming nothing.
///
/// `logs[i]` is the log of `windows[i]`; a missing log is a window never used.
pub fn peek<L: Borrow<Log>>(now_us: u64, windows: &[Window], logs: &[L]) -> Decision {
    let logs = &logs[..logs.len().min(windows.len())];
    let now = effective_now(now_us, logs);
    let empty = Log::new();
    let verdicts: Vec<Verdict> = windows
        .iter()
        .enumerate()
        .map(|(i, w)| judge(now, w, logs.get(i).map_or(&empty, Borrow::borrow)))
        .collect();
    let allowed = verdicts.iter().all(|v| v.state.remaining > 0);
    let retries: Vec<Duration> = verdicts.iter().map(|v| v.retry).collect();
    let states = verdicts.into_iter().map(|v| v.state).collect();
    assemble(windows, allowed, states, &retries)
}

/// Checks a request at `now_us` against every window and records it in every log only when all
/// allow it.
///
/// `logs` is first made one log per window (missing ones empty); a rejection leaves it so.
pub fn check(now_us: u64, windows: &[Window], logs: &mut Vec<Log>) -> Decision {
    logs.resize_with(windows.len(), Log::new);
    let now = effective_now(now_us, logs);
    let probe = peek(now, windows, logs);
    if !probe.allowed {
        return probe;
    }
    for (window, log) in windows.iter().zip(logs.iter_mut()) {
        record(now, window, log);
    }
    let states = windows
        .iter()
        .zip(logs.iter())
        .map(|(w, log)| judge(now, w, log).state)
        .collect();
    assemble(windows, true, states, &[])
}

/// Appends `now` to a log, dropping what can no longer matter: entries that left the window,
/// and any beyond the newest `limit`.
fn record(now: u64, window: &Window, log: &mut Log) {
    let (limit, period) = bounds(window);
    log.push_back(now);
    let keep = live(log, period, now).min(limit);
    log.drain(..log.len() - keep);
}

/// Builds a [`Decision`] from per-window states, choosing `tightest` and `retry_after`.
///
/// For an allowed request `states` are taken after consumption; for a rejected one (or a
/// peek) before it, where a window rejects exactly when its `remaining` is 0. `retries[i]` is
/// how long window `i` keeps rejecting (missing: zero). Shared with adapters that compute the
/// states elsewhere (the Redis script), so every backend reports the same way.
pub fn assemble(
    windows: &[Window],
    allowed: bool,
    states: Vec<WindowState>,
    retries: &[Duration],
) -> Decision {
    let period = |i: usize| windows.get(i).map_or(Duration::ZERO, |w| w.period);
    if allowed {
        let tightest = (0..states.len())
            .min_by_key(|&i| (states[i].remaining, period(i), i))
            .unwrap_or(0);
        return Decision {
            allowed,
            windows: states,
            tightest,
            retry_after: None,
        };
    }
    // The request can pass once the last rejecting window lets go; that window is the tightest.
    let retry = |i: usize| retries.get(i).copied().unwrap_or(Duration::ZERO);
    let worst = (0..states.len())
        .filter(|&i| states[i].remaining == 0)
        .map(|i| (std::cmp::Reverse(retry(i)), period(i), i))
        .min();
    Decision {
        allowed,
        windows: states,
        tightest: worst.map_or(0, |(_, _, i)| i),
        retry_after: worst.map(|(std::cmp::Reverse(retry), _, _)| retry),
    }
}
