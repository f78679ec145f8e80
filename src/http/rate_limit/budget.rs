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
