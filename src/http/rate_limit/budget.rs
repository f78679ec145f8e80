//! Daily token budgets on the wire: the `X-TokenBudget-*` headers of tutoring answers, the 429
//! of a spent budget, and the `token_budget` object of `GET /v1/rate-limit`.
//!
//! Like the `X-RateLimit-*` headers, they are sent only when the caller's tier has a budget:
//! an unlimited tier gets none.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::http::HeaderValue;
use poem::{Request, Response};
use poem_openapi::payload::Json;

use super::ceil_secs;
use crate::app::budget::BudgetService;
use crate::app::study::StudyError;
use crate::domain::token_budget::BudgetStatus;
use crate::http::error::ApiError;

/// The `X-TokenBudget-*` values: limit, remaining, time to the reset.
type Shown = (u64, u64, Duration);

/// Where a tutoring operation leaves the caller's budget for the headers middleware.
#[derive(Clone, Default)]
pub struct BudgetSlot(Arc<Mutex<Option<Shown>>>);

impl BudgetSlot {
    fn put(req: &Request, shown: Shown) {
        if let Some(slot) = req.data::<BudgetSlot>() {
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(shown);
        }
    }

    /// Writes the headers of what an operation left here, if anything.
    pub(super) fn apply(&self, resp: &mut Response) {
        let shown = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some((limit, remaining, reset)) = shown else {
            return;
        };
        let h = resp.headers_mut();
        for (name, value) in [
            ("x-tokenbudget-limit", limit),
            ("x-tokenbudget-remaining", remaining),
            ("x-tokenbudget-reset", ceil_secs(reset)),
        ] {
            h.insert(name, HeaderValue::from(value));
        }
    }
}

/// Shows `budget` (as checked before a turn) in the answer's headers; nothing for an unlimited
/// tier.
pub fn show_budget(req: &Request, budget: Option<&BudgetStatus>) {
    if let Some(status) = budget
        && let (Some(limit), Some(remaining)) = (status.limit, status.remaining())
    {
        BudgetSlot::put(req, (limit, remaining, status.reset_after));
    }
}

/// The answer to a turn the use case refused: a spent budget also shows in the headers.
pub fn turn_refused(req: &Request, err: StudyError) -> ApiError {
    if let StudyError::TokenBudgetExhausted { limit, reset_after } = &err {
        BudgetSlot::put(req, (*limit, 0, *reset_after));
    }
    err.into()
}

/// The caller's daily token budget in `GET /v1/rate-limit`.
#[derive(Debug, poem_openapi::Object)]
pub struct TokenBudgetStatus {
    /// Whether the caller's tier has no daily budget (then `limit` and `remaining` are absent).
    pub unlimited: bool,
    /// Model tokens the tier may spend per UTC day.
    #[oai(skip_serializing_if_is_none)]
    pub limit: Option<u64>,
    /// Tokens charged today: what the model reported per turn, or an estimate of about four
    /// characters of prompt and answer a token when it reported none.
    pub used: u64,
    /// Tokens left today. A turn starts while any are left, and may end past the budget.
    #[oai(skip_serializing_if_is_none)]
    pub remaining: Option<u64>,
    /// Seconds until the budget is replenished (the next 00:00 UTC).
    pub reset: u64,
    /// When the budget is replenished: the next 00:00 UTC.
    pub resets_at: DateTime<Utc>,
}

impl From<BudgetStatus> for TokenBudgetStatus {
    fn from(status: BudgetStatus) -> Self {
        Self {
            unlimited: status.limit.is_none(),
            limit: status.limit,
            used: status.used,
            remaining: status.remaining(),
            reset: ceil_secs(status.reset_after),
            resets_at: status.resets_at,
        }
    }
}

/// The caller's budget for the status endpoint, when budgets are configured.
pub(super) async fn budget_status(
    req: &Request,
    who: &crate::domain::principal::Principal,
) -> Option<TokenBudgetStatus> {
    let budgets = req.data::<Option<Arc<BudgetService>>>()?.as_ref()?;
    Some(
        Box::pin(budgets.status(&who.user_id, who.tier))
            .await
            .into(),
    )
}

impl ApiError {
    /// 429 `token_budget_exhausted`: the daily budget of `limit` tokens is spent until the next
    /// 00:00 UTC, `reset_after` from now.
    pub fn token_budget_exhausted(limit: u64, reset_after: Duration) -> Self {
        let secs = ceil_secs(reset_after).max(1);
        let message = format!(
            "daily token budget of {limit} tokens used up; it resets at 00:00 UTC, in {}",
            spell_wait(secs)
        );
        let Self::TooManyRequests(Json(mut body), retry) = Self::rate_limited(
            message,
            u32::try_from(limit).unwrap_or(u32::MAX),
            "day",
            reset_after,
        ) else {
            unreachable!("rate_limited builds a 429")
        };
        body.error.code = "token_budget_exhausted".into();
        Self::TooManyRequests(Json(body), retry)
    }
}

/// `5 h 3 min`, `12 min`, `40 s`: a wait as a student reads it.
fn spell_wait(secs: u64) -> String {
    let (h, m) = (secs / 3_600, secs % 3_600 / 60);
    match (h, m) {
        (0, 0) => format!("{secs} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use poem::IntoResponse;
    use poem::http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn a_spent_token_budget_is_a_429_naming_the_budget_and_its_reset() {
        // Arrange
        let err = ApiError::from(StudyError::TokenBudgetExhausted {
            limit: 50,
            reset_after: Duration::from_secs(5 * 3_600 + 3 * 60 + 20),
        });
        // Act
        let resp = err.into_response();
        // Assert
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            resp.headers()["retry-after"],
            (5 * 3_600 + 3 * 60 + 20).to_string()
        );
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().into_bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "token_budget_exhausted");
        assert_eq!(body["error"]["limit"], 50);
        assert_eq!(body["error"]["window"], "day");
        assert_eq!(
            body["error"]["message"],
            "daily token budget of 50 tokens used up; it resets at 00:00 UTC, in 5 h 3 min"
        );
    }
}
