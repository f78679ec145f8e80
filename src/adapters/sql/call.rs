//! Bounded store calls: every store operation queues for one of the pool's connections at a
//! gate whose wait is charged to the request's [`crate::wait_budget`], then runs within
//! what is left of the acquire timeout plus the statement timeout (and a small margin). A call
//! that runs out of either is [`StoreError::Unavailable`]: a 503, never a hang.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Database;
use crate::domain::ports::StoreError;
use crate::wait_budget;

/// Slack on top of acquire + statement timeout, for the round trips around a statement.
const MARGIN: Duration = Duration::from_millis(500);

impl Database {
    /// Runs one store read, bounded (see the module documentation).
    ///
    /// # Errors
    /// `call`'s error, or [`StoreError::Unavailable`] when the bound ran out.
    pub async fn read<T>(
        &self,
        action: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.bounded(action, call).await
    }

    /// Runs one store write, bounded like [`Self::read`]; its outcome tells readiness whether
    /// the database still commits.
    ///
    /// # Errors
    /// `call`'s error, or [`StoreError::Unavailable`] when the bound ran out.
    pub async fn write<T>(
        &self,
        action: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = self.bounded(action, call).await;
        match &result {
            Ok(_) => self.health.write_succeeded(),
            Err(StoreError::Unavailable) => self.health.write_failed(),
            Err(_) => {}
        }
        result
    }

    async fn bounded<T>(
        &self,
        action: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let _op = self.operation();
        // Outside a request (a turn's task, the command line) each call has a budget of its own.
        let budget = wait_budget::current().unwrap_or_default();
        let started = Instant::now();
        let permit =
            tokio::time::timeout(budget.left_of(self.acquire_timeout), self.gate.acquire()).await;
        budget.spend(started.elapsed());
        let Ok(Ok(_permit)) = permit else {
            self.acquire_timeouts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                action,
                waited_ms = elapsed_ms(started),
                "no database connection within the request's wait budget"
            );
            return Err(StoreError::Unavailable);
        };
        // The pool may still have to open a connection: that too comes out of the budget.
        let bound = budget.left_of(self.acquire_timeout) + self.statement_timeout + MARGIN;
        let running = Instant::now();
        match tokio::time::timeout(bound, call).await {
            Ok(Err(StoreError::Unavailable)) => {
                // Most likely the pool could not hand out or open a connection in time.
                budget.spend(running.elapsed());
                Err(StoreError::Unavailable)
            }
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    action,
                    bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
                    "database call timed out"
                );
                budget.spend(running.elapsed());
                Err(StoreError::Unavailable)
            }
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
