//! GCRA (generic cell rate algorithm) over stored theoretical arrival times: pure arithmetic.
//!
//! Each window of a bucket keeps one number, its TAT ("theoretical arrival time", µs since the
//! Unix epoch): the moment the window would be fully replenished. For a window of `limit`
//! requests per `period`, the emission interval is `T = period / limit` and the burst tolerance
//! `τ = period − T`; a request at `now` conforms when `max(tat, now) − now ≤ τ` and then moves
//! the TAT to `max(tat, now) + T`. A full bucket thus admits a burst of `limit` requests, then
//! one request every `T`: over any span `L` a window admits at most `limit + ⌊L / T⌋`
//! requests (up to about `2 × limit` in one sliding `period`, never more than `limit` at once).
//!
//! Arithmetic is in whole microseconds: `T` is rounded down (at least 1 µs) and the period is
//! taken as `limit × T`, so a burst is exactly `limit` even when `limit` does not divide the
//! period. The Redis script (`adapters::rate_limit_redis`) does the same arithmetic in Lua.
//! Time is always a parameter; nothing here reads a clock.

#[cfg(test)]
mod tests;

use std::time::Duration;

use super::rate_limit::{Decision, Window, WindowState};

/// Emission interval `T` and effective period `limit × T` of a window, in µs.
///
/// A `limit` of 0 is treated as 1 (a window that admits nothing is a configuration error, and
/// dividing by it must not panic).
pub fn intervals(window: &Window) -> (u64, u64) {
    let limit = u64::from(window.limit.max(1));
    let period = u64::try_from(window.period.as_micros()).unwrap_or(u64::MAX);
    let emission = (period / limit).max(1);
    (emission, emission.saturating_mul(limit))
}

/// Reports what a check at `now_us` would decide, consuming nothing.
///
/// `tats[i]` is the stored TAT of `windows[i]` (0 or missing: never used).
pub fn peek(now_us: u64, windows: &[Window], tats: &[u64]) -> Decision {
    let states: Vec<WindowState> = windows
        .iter()
        .enumerate()
        .map(|(i, w)| state(now_us, w, stored(tats, i)))
        .collect();
    let allowed = states.iter().all(|s| s.remaining > 0);
    assemble(windows, allowed, states)
}

/// Checks a request at `now_us` against every window and consumes one unit in each only when
/// all allow it.
///
/// Returns the decision and the TATs to store, one per window: unchanged (missing ones as 0)
/// when the request is rejected.
pub fn check(now_us: u64, windows: &[Window], tats: &[u64]) -> (Decision, Vec<u64>) {
    let current: Vec<u64> = (0..windows.len()).map(|i| stored(tats, i)).collect();
    let probe = peek(now_us, windows, &current);
    if !probe.allowed {
        return (probe, current);
    }
    let next: Vec<u64> = windows
        .iter()
        .zip(&current)
        .map(|(w, &tat)| tat.max(now_us).saturating_add(intervals(w).0))
        .collect();
    let states = windows
        .iter()
        .zip(&next)
        .map(|(w, &tat)| state(now_us, w, tat))
        .collect();
    (assemble(windows, true, states), next)
}

/// Builds a [`Decision`] from per-window states, choosing `tightest` and `retry_after`.
///
/// For an allowed request `states` are taken after consumption; for a rejected one (or a
/// peek) before it, where a window rejects exactly when its `remaining` is 0. Shared with
/// adapters that compute the states elsewhere (the Redis script), so every backend reports the
/// same way.
pub fn assemble(windows: &[Window], allowed: bool, states: Vec<WindowState>) -> Decision {
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
    // A rejecting window's retry is its debt beyond the burst tolerance: `tat + T − period − now`.
    let retry = |i: usize| {
        let (emission, span) = windows.get(i).map_or((1, 1), intervals);
        let debt = u64::try_from(states[i].reset_after.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(debt.saturating_add(emission).saturating_sub(span))
    };
    let rejecting = (0..states.len()).filter(|&i| states[i].remaining == 0);
    let worst = rejecting
        .map(|i| (std::cmp::Reverse(retry(i)), period(i), i))
        .min();
    let tightest = worst.map_or(0, |(_, _, i)| i);
    let retry_after = worst.map(|(std::cmp::Reverse(retry), _, _)| retry);
    Decision {
        allowed,
        windows: states,
        tightest,
        retry_after,
    }
}

fn stored(tats: &[u64], i: usize) -> u64 {
    tats.get(i).copied().unwrap_or(0)
}

/// State of one window whose TAT is `tat` (a TAT in the past means a full window).
fn state(now_us: u64, window: &Window, tat: u64) -> WindowState {
    let (emission, span) = intervals(window);
    let debt = tat.saturating_sub(now_us);
    let remaining = span.saturating_sub(debt) / emission;
    WindowState {
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_after: Duration::from_micros(debt),
    }
}
