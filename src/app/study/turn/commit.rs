//! The final write of a turn: retried while the store is unavailable, within the turn's window
//! (the turn's reads go through the same retry).
//!
//! The write is idempotent (the answer's id is fixed and items and study state are upserts), so
//! an attempt whose outcome was lost (the commit reached the database, the reply did not) is
//! safely repeated. If the answer still cannot be stored, the student is told in the stream, and
//! the answer's `thread.item.done` is never sent: nothing pretends it was kept.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::TurnEvent;
use crate::app::study::StudyService;
use crate::domain::ports::{StoreError, TurnCommit};

/// First pause between attempts; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// However late in its deadline a turn ends, its answer gets at least this long to be stored.
pub(super) const MIN_COMMIT_WINDOW: Duration = Duration::from_secs(10);
/// A turn stopped at shutdown gets this long (within the shutdown's finalize window).
pub(super) const STOPPED_COMMIT_WINDOW: Duration = Duration::from_secs(4);

/// What the student is told when the answer they saw could not be stored.
pub const ANSWER_NOT_SAVED: &str =
    "The tutor's answer could not be saved. Please send your message again.";

/// Outcome of storing a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Committed {
    /// Stored.
    Stored,
    /// Not stored, and the student was told why (thread deleted, store unavailable).
    Refused,
}

impl StudyService {
    /// Commits a turn, retrying with backoff while the store is unavailable and `until` is
    /// ahead. The student is told when it was not stored.
    #[tracing::instrument(name = "tutoring.commit", skip_all)]
    pub(super) async fn commit(
        &self,
        user: &str,
        commit: &TurnCommit,
        until: Instant,
        send: &impl Fn(TurnEvent),
    ) -> Committed {
        let (outcome, attempts) =
            retry_unavailable(until, || self.store.commit_turn(user, commit)).await;
        match outcome {
            Ok(()) => {
                if attempts > 1 {
                    tracing::info!(thread_id = %commit.thread_id, attempts, "turn stored after retries");
                }
                Committed::Stored
            }
            Err(StoreError::NotFound) => {
                send(TurnEvent::Error {
                    message: Some("This conversation was deleted.".into()),
                    allow_retry: false,
                });
                Committed::Refused
            }
            Err(e) => {
                tracing::error!(thread_id = %commit.thread_id, attempts, error = ?e, "the answer was not saved");
                send(TurnEvent::Error {
                    message: Some(ANSWER_NOT_SAVED.into()),
                    allow_retry: true,
                });
                Committed::Refused
            }
        }
    }
}

/// Runs `op` until it succeeds or fails for a reason other than [`StoreError::Unavailable`],
/// pausing with backoff between attempts, while `until` is ahead (every attempt is bounded by
/// it too). Returns the last outcome and the number of attempts.
pub(super) async fn retry_unavailable<T, F, Fut>(
    until: Instant,
    mut op: F,
) -> (Result<T, StoreError>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut pause = FIRST_BACKOFF;
    let mut attempts = 0_u32;
    loop {
        attempts += 1;
        let outcome = tokio::time::timeout_at(until, op())
            .await
            .unwrap_or(Err(StoreError::Unavailable));
        match outcome {
            Err(StoreError::Unavailable) if Instant::now() + pause < until => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            outcome => return (outcome, attempts),
        }
    }
}

#[cfg(test)]
mod tests;
