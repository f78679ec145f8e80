//! Port of the token ledger: how many model tokens each student spent per budget day, shared
//! by every replica that uses the same backend.

use async_trait::async_trait;
use chrono::NaiveDate;

/// Failure of a [`TokenLedger`] backend. Callers fall back to an in-process ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The backend did not answer within its timeout, or failed.
    #[error("token ledger unavailable: {0}")]
    Unavailable(String),
}

/// Tokens charged per key (a user id) and budget day (see `domain::token_budget`).
///
/// A day's count lives at least until that day is over (adapters keep it about two days, then
/// drop it); a key never charged on a day reads 0.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TokenLedger: Send + Sync + 'static {
    /// Tokens charged to `key` on `day`.
    ///
    /// # Errors
    /// - MUST return [`LedgerError::Unavailable`] when the backend fails; never a guess.
    async fn spent(&self, key: &str, day: NaiveDate) -> Result<u64, LedgerError>;

    /// Adds `tokens` to `key` on `day`, atomically (concurrent charges all count), and answers
    /// the new total.
    ///
    /// # Errors
    /// - MUST return [`LedgerError::Unavailable`] when the backend fails; the charge may or may
    ///   not have been recorded then, and callers do not retry it (a lost charge only errs on
    ///   the student's side).
    async fn charge(&self, key: &str, day: NaiveDate, tokens: u64) -> Result<u64, LedgerError>;
}
