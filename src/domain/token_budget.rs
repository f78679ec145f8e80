//! Daily token budgets: the budget day, its reset, what a turn costs, and what a budget looks
//! like to a student. Pure rules; the counting lives behind the `TokenLedger` port.
//!
//! The budget day is the UTC calendar day: every budget starts again at 00:00 UTC, the same
//! moment on every replica and for every student, whatever their time zone.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};

/// Characters per token of the estimate used when the model reports no usage: about four
/// characters of English text make one token for the common tokenizers.
pub const CHARS_PER_TOKEN: u64 = 4;

/// Largest budget `TOKEN_BUDGET_*` accepts (a 429 body carries it as a 32-bit number).
pub const MAX_DAILY_TOKENS: u64 = u32::MAX as u64;

/// The budget day `now` falls in.
pub fn budget_day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

/// The moment the budget of `now`'s day is replenished: the next 00:00 UTC.
pub fn resets_at(now: DateTime<Utc>) -> DateTime<Utc> {
    let next = budget_day(now)
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX);
    next.and_hms_opt(0, 0, 0)
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// Time from `now` until its budget is replenished (never zero: at 00:00:00 sharp a whole day
/// is left).
pub fn until_reset(now: DateTime<Utc>) -> Duration {
    (resets_at(now) - now).to_std().unwrap_or(Duration::ZERO)
}

/// The day as it appears in ledger keys: `YYYYMMDD`.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// Tokens a turn is charged when the model reported none: a quarter of the characters of the
/// prompt plus the answer, rounded up, at least 1 for any turn that sent a prompt.
pub fn estimate_tokens(prompt_chars: usize, answer_chars: usize) -> u64 {
    let chars = u64::try_from(prompt_chars.saturating_add(answer_chars)).unwrap_or(u64::MAX);
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// Where a turn's charge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeSource {
    /// The model's own usage report.
    Reported,
    /// [`estimate_tokens`]: the model reported nothing, or 0 prompt and 0 completion tokens
    /// (the offline tutor does).
    Estimated,
}

impl ChargeSource {
    /// Stable lowercase name (metrics, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Estimated => "estimated",
        }
    }
}

/// What a turn costs: the reported usage (input + output) when there is a real one, else the
/// estimate over `prompt_chars` and `answer_chars`.
pub fn turn_cost(
    reported: Option<(u32, u32)>,
    prompt_chars: usize,
    answer_chars: usize,
) -> (u64, ChargeSource) {
    match reported {
        Some((input, output)) if input > 0 || output > 0 => {
            (u64::from(input) + u64::from(output), ChargeSource::Reported)
        }
        _ => (
            estimate_tokens(prompt_chars, answer_chars),
            ChargeSource::Estimated,
        ),
    }
}

/// Parses a daily budget: a whole number of tokens from 1 to [`MAX_DAILY_TOKENS`], or
/// `unlimited` (`None`).
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_budget(spec: &str) -> Result<Option<u64>, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let tokens: u64 = spec.replace('_', "").parse().map_err(|_| {
        format!("{spec:?} is neither a whole number of tokens per day nor \"unlimited\"")
    })?;
    if !(1..=MAX_DAILY_TOKENS).contains(&tokens) {
        return Err(format!(
            "{tokens} is out of range 1..={MAX_DAILY_TOKENS} (use \"unlimited\" for no budget)"
        ));
    }
    Ok(Some(tokens))
}

/// A student's budget at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStatus {
    /// Tokens per day; `None` = unlimited.
    pub limit: Option<u64>,
    /// Tokens charged today.
    pub used: u64,
    /// The next 00:00 UTC.
    pub resets_at: DateTime<Utc>,
    /// Time until then.
    pub reset_after: Duration,
}

impl BudgetStatus {
    /// The status of a budget of `limit` with `used` spent, at `now`.
    pub fn at(now: DateTime<Utc>, limit: Option<u64>, used: u64) -> Self {
        Self {
            limit,
            used,
            resets_at: resets_at(now),
            reset_after: until_reset(now),
        }
    }

    /// Tokens left today; `None` when unlimited.
    pub fn remaining(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.used))
    }

    /// Whether no turn may start before the reset: everything is spent. A turn that starts
    /// with budget left may end past it (its cost is known only at its end); the next one is
    /// refused.
    pub fn exhausted(&self) -> bool {
        self.limit.is_some_and(|limit| self.used >= limit)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    #[test]
    fn the_budget_day_is_the_utc_calendar_day_and_resets_at_midnight_utc() {
        let now = at(2026, 3, 14, 23, 59, 30);
        assert_eq!(day_key(budget_day(now)), "20260314");
        assert_eq!(resets_at(now), at(2026, 3, 15, 0, 0, 0));
        assert_eq!(until_reset(now), Duration::from_secs(30));
        let midnight = at(2026, 3, 15, 0, 0, 0);
        assert_eq!(day_key(budget_day(midnight)), "20260315");
        assert_eq!(until_reset(midnight), Duration::from_secs(86_400));
    }

    #[test]
    fn a_day_ends_across_months_and_years() {
        assert_eq!(
            resets_at(at(2025, 12, 31, 12, 0, 0)),
            at(2026, 1, 1, 0, 0, 0)
        );
        assert_eq!(
            resets_at(at(2028, 2, 28, 1, 0, 0)),
            at(2028, 2, 29, 0, 0, 0)
        );
    }

    #[test]
    fn unreported_usage_is_estimated_at_four_characters_a_token() {
        assert_eq!(estimate_tokens(0, 0), 0);
        assert_eq!(estimate_tokens(1, 0), 1);
        assert_eq!(estimate_tokens(4_000, 400), 1_100);
        assert_eq!(estimate_tokens(3, 2), 2);
    }

    #[test]
    fn zero_reported_usage_counts_as_none_reported() {
        assert_eq!(
            turn_cost(Some((12, 7)), 400, 40),
            (19, ChargeSource::Reported)
        );
        assert_eq!(
            turn_cost(Some((0, 5)), 400, 40),
            (5, ChargeSource::Reported)
        );
        assert_eq!(
            turn_cost(Some((0, 0)), 400, 40),
            (110, ChargeSource::Estimated)
        );
        assert_eq!(turn_cost(None, 400, 40), (110, ChargeSource::Estimated));
    }

    #[test]
    fn budgets_parse_as_tokens_or_unlimited() {
        assert_eq!(parse_budget("200000"), Ok(Some(200_000)));
        assert_eq!(parse_budget(" 2_000_000 "), Ok(Some(2_000_000)));
        assert_eq!(parse_budget("Unlimited"), Ok(None));
        for bad in ["", "0", "-5", "1.5", "lots", "4294967296", "200k"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_budget_is_exhausted_once_everything_is_spent() {
        let now = at(2026, 3, 14, 18, 0, 0);
        let fresh = BudgetStatus::at(now, Some(50), 0);
        assert_eq!((fresh.remaining(), fresh.exhausted()), (Some(50), false));
        let almost = BudgetStatus::at(now, Some(50), 49);
        assert_eq!((almost.remaining(), almost.exhausted()), (Some(1), false));
        let spent = BudgetStatus::at(now, Some(50), 57);
        assert_eq!((spent.remaining(), spent.exhausted()), (Some(0), true));
        assert_eq!(spent.reset_after, Duration::from_secs(6 * 3_600));
        let unlimited = BudgetStatus::at(now, None, u64::MAX);
        assert_eq!(
            (unlimited.remaining(), unlimited.exhausted()),
            (None, false)
        );
    }
}
