//! Daily token budgets in tutoring turns: refused before anything is stored when the student's
//! budget is spent, charged with what the model used once it is done.

use std::sync::Arc;

use super::{StudyError, StudyService};
use crate::app::budget::BudgetService;
use crate::domain::principal::Principal;
use crate::domain::thread::Usage;
use crate::domain::token_budget::{BudgetStatus, turn_cost};

impl StudyService {
    /// Checks every turn against `budget`'s daily token budgets.
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<BudgetService>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The token budgets turns are checked against, when configured.
    pub fn budget(&self) -> Option<&Arc<BudgetService>> {
        self.budget.as_ref()
    }

    /// Refuses a turn of a student whose daily budget is spent; else the budget as it stands
    /// (`None` for an unlimited tier or without budgets).
    pub(super) async fn ensure_token_budget(
        &self,
        who: &Principal,
    ) -> Result<Option<BudgetStatus>, StudyError> {
        let Some(budget) = &self.budget else {
            return Ok(None);
        };
        // Boxed: the turn-starting futures sit deep in the request's future, whose size (and
        // every poll's stack frame, in debug builds) the check would otherwise add to.
        Box::pin(budget.check(&who.user_id, who.tier))
            .await
            .map_err(|spent| StudyError::TokenBudgetExhausted {
                limit: spent.limit.unwrap_or_default(),
                reset_after: spent.reset_after,
            })
    }

    /// Charges a finished (or failed) turn: the usage the model reported, or an estimate from
    /// the characters of its prompt and answer when it reported none. Best effort and bounded
    /// by the ledger's own timeout; never fails the turn.
    pub(super) async fn charge_tokens(
        &self,
        who: &Principal,
        usage: Option<Usage>,
        prompt_chars: usize,
        answer_chars: usize,
    ) {
        let Some(budget) = &self.budget else {
            return;
        };
        let reported = usage.map(|u| (u.input_tokens, u.output_tokens));
        let (tokens, source) = turn_cost(reported, prompt_chars, answer_chars);
        let total = budget.charge(&who.user_id, tokens, source).await;
        tracing::debug!(
            tokens,
            source = source.as_str(),
            total,
            "turn charged to the daily token budget"
        );
    }
}
