//! Quota windows and the decision a rate limiter returns (the counting lives in `sliding_log`).

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

/// A quota bucket: which requests share a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Every operation that runs the model.
    Chat,
    /// Every other authenticated request.
    Api,
}

impl Bucket {
    /// Stable lowercase name (keys, headers, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Chat => "chat",
            Bucket::Api => "api",
        }
    }
}

/// Name of a window's period in headers and errors: `second`, `minute`, `hour`, `day`, or
/// `{n}s` for any other length.
pub fn period_name(period: Duration) -> String {
    match period.as_secs() {
        1 => "second".into(),
        60 => "minute".into(),
        3_600 => "hour".into(),
        86_400 => "day".into(),
        n => format!("{n}s"),
    }
}

/// Parses a quota like `20/minute,500/day` (units: second, minute, hour, day, optionally plural
/// or abbreviated s/m/h/d), or `unlimited` (no windows).
///
/// # Errors
/// A message saying which part is malformed.
pub fn parse_windows(spec: &str) -> Result<Vec<Window>, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("unlimited") {
        return Ok(Vec::new());
    }
    let mut windows = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (count, unit) = part
            .split_once('/')
            .ok_or_else(|| format!("{part:?} is not N/unit"))?;
        let limit: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("{count:?} is not a whole number"))?;
        if limit == 0 {
            return Err(format!("{part:?}: the limit must be at least 1"));
        }
        let secs = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            other => return Err(format!("{other:?} is not one of second, minute, hour, day")),
        };
        let period = Duration::from_secs(secs);
        if windows.iter().any(|w: &Window| w.period == period) {
            return Err(format!("two limits per {}", period_name(period)));
        }
        windows.push(Window { limit, period });
    }
    windows.sort_by_key(|w| w.period);
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_into_windows_sorted_by_period() {
        let w = parse_windows("500/day, 20/minute").unwrap();
        assert_eq!(
            w,
            vec![
                Window {
                    limit: 20,
                    period: Duration::from_secs(60)
                },
                Window {
                    limit: 500,
                    period: Duration::from_secs(86_400)
                }
            ]
        );
        assert!(parse_windows("unlimited").unwrap().is_empty());
        assert_eq!(
            parse_windows("5/s").unwrap()[0].period,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn malformed_quotas_say_what_is_wrong() {
        for bad in [
            "",
            "20",
            "x/minute",
            "0/minute",
            "20/fortnight",
            "1/minute,2/minute",
            "-1/day",
        ] {
            assert!(parse_windows(bad).is_err(), "{bad}");
        }
    }
}
