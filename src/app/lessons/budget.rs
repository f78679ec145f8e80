//! The per-user budget of upstream fetches: cache misses one user may send to the source.

use std::sync::Arc;
use std::time::Duration;

use super::{LessonError, LessonService};
use crate::domain::ports::RateLimiter;
use crate::domain::rate_limit::Window;

/// At most `window.limit` upstream fetches per user per `window.period`, counted by `limiter`.
pub(super) struct FetchBudget {
    limiter: Arc<dyn RateLimiter>,
    window: Window,
}

impl LessonService {
    /// Bounds the cache misses one user may send upstream to `per_minute` a minute, counted
    /// in `limiter` (keys `lesson-fetch:{user}`). Beyond it a retained copy is served as
    /// stale, else [`LessonError::FetchBudgetExhausted`].
    pub fn with_fetch_budget(mut self, limiter: Arc<dyn RateLimiter>, per_minute: u32) -> Self {
        self.fetch_budget = Some(FetchBudget {
            limiter,
            window: Window {
                limit: per_minute.max(1),
                period: Duration::from_secs(60),
            },
        });
        self
    }

    /// Counts one upstream fetch against `user`'s budget.
    pub(super) async fn spend_fetch(&self, user: &str) -> Result<(), LessonError> {
        let Some(budget) = &self.fetch_budget else {
            return Ok(());
        };
        let key = format!("lesson-fetch:{user}");
        match budget
            .limiter
            .check(&key, std::slice::from_ref(&budget.window))
            .await
        {
            Ok(decision) if decision.allowed => Ok(()),
            Ok(decision) => {
                self.metrics.budget_exhausted();
                tracing::warn!(
                    user,
                    limit = budget.window.limit,
                    "lesson fetch budget exhausted"
                );
                Err(LessonError::FetchBudgetExhausted {
                    limit: budget.window.limit,
                    retry_after: decision.retry_after.unwrap_or(Duration::from_secs(1)),
                })
            }
            Err(e) => {
                // The limiter is a guard, not a dependency: fail open and say so.
                tracing::error!(error = %e, "lesson fetch budget unavailable; fetch allowed");
                Ok(())
            }
        }
    }
}
