//! A request's budget of time spent waiting for database connections, so that one request
//! waits at most one acquire timeout in total however many store calls it makes.
//!
//! The HTTP layer runs each request inside [`scope`]; the SQL adapter reads [`current`] before
//! queueing for a connection and [`WaitBudget::spend`]s what it waited. Work outside a request
//! (a turn's task, the command line) has no budget, and each call is bounded on its own.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

tokio::task_local! {
    static BUDGET: WaitBudget;
}

/// Time one request has spent waiting for connections so far (shared by its store calls).
#[derive(Debug, Clone, Default)]
pub struct WaitBudget(Arc<Mutex<Duration>>);

impl WaitBudget {
    /// Time waited so far.
    pub fn spent(&self) -> Duration {
        self.0.lock().map_or(Duration::MAX, |s| *s)
    }

    /// Adds `waited` to the time spent.
    pub fn spend(&self, waited: Duration) {
        if let Ok(mut spent) = self.0.lock() {
            *spent = spent.saturating_add(waited);
        }
    }

    /// What is left of `allowance` (zero once spent).
    pub fn left_of(&self, allowance: Duration) -> Duration {
        allowance.saturating_sub(self.spent())
    }
}

/// Runs `fut` (one request) with a fresh, empty budget.
pub async fn scope<F: Future>(fut: F) -> F::Output {
    BUDGET.scope(WaitBudget::default(), fut).await
}

/// The budget of the request being served, if any.
pub fn current() -> Option<WaitBudget> {
    BUDGET.try_with(WaitBudget::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_shares_one_budget_and_outside_there_is_none() {
        assert!(current().is_none());
        scope(async {
            current().expect("budget").spend(Duration::from_millis(300));
            current().expect("budget").spend(Duration::from_millis(400));
            let left = current().expect("budget").left_of(Duration::from_secs(1));
            assert_eq!(left, Duration::from_millis(300));
            assert_eq!(
                current()
                    .expect("budget")
                    .left_of(Duration::from_millis(500)),
                Duration::ZERO
            );
        })
        .await;
        scope(async {
            assert_eq!(current().expect("budget").spent(), Duration::ZERO);
        })
        .await;
    }
}
