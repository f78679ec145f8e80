//! Port traits: the only way `app/` reaches the outside world.
//!
//! Every adapter must honour the contract written on each method; the contract tests under
//! `tests/` run the same assertions against every adapter of a port.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::api_key::ApiKeyRecord;
use super::principal::Principal;
use super::rate_limit::{Decision, Window};
use super::teach::StudyState;
use super::thread::{FeedbackKind, Page, PageRequest, Thread, ThreadItem, Usage};
use super::tutor::{Prompt, TutorChunk};

mod auth;
mod book;
mod budget;
mod identity;
mod learning;
mod lessons;
mod progress;

pub use auth::*;
pub use book::*;
pub use budget::*;
pub use identity::*;
pub use learning::*;
pub use lessons::*;
pub use progress::*;

/// Failure of a [`ThreadStore`] call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist for this user (or belongs to someone else).
    #[error("not found")]
    NotFound,
    /// A row with the same id already exists with different content.
    #[error("conflict")]
    Conflict,
    /// The database could not be reached in time (pool exhausted, connection refused).
    #[error("database unavailable")]
    Unavailable,
    /// Anything else; details are logged, never shown to clients.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Everything a finished tutoring turn writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCommit {
    /// Thread of the turn.
    pub thread_id: String,
    /// Items produced by the turn (the assistant message), upserted by id.
    pub items: Vec<ThreadItem>,
    /// New study state, when the turn advanced it.
    pub state: Option<StudyState>,
    /// New title, when the turn set one.
    pub title: Option<String>,
    /// Model token usage of the turn.
    pub usage: Option<Usage>,
}

/// Durable threads, items, study state and feedback, scoped by the caller's user id.
///
/// Every method takes the caller's `user_id`; a thread of another user behaves exactly like a
/// missing one. Pages are keyset pages on `(created_at, id)` with an exclusive `after` cursor.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ThreadStore: Send + Sync + 'static {
    /// Inserts a new thread (owner and organisation are taken from `thread`).
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the id exists already.
    /// - MUST return [`StoreError::Unavailable`] when no connection could be had in time.
    async fn create_thread(&self, thread: &Thread) -> Result<(), StoreError>;

    /// Inserts a new thread together with its first item (the student's first message), in
    /// one transaction: both are stored or neither is, so a create whose message cannot be
    /// stored leaves no empty thread behind.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Conflict`] when the thread id exists already.
    /// - MUST return [`StoreError::Unavailable`] when no connection could be had in time.
    /// - Nothing is written on any error.
    async fn create_thread_with_item(
        &self,
        thread: &Thread,
        first: &ThreadItem,
    ) -> Result<(), StoreError>;

    /// Loads one thread of `user_id`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when it does not exist or belongs to another user.
    async fn get_thread(&self, user_id: &str, thread_id: &str) -> Result<Thread, StoreError>;

    /// Lists the threads of `user_id`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when `page.after` is a plain id (the older form)
    ///   that names no thread of this user. An opaque cursor (see [`crate::domain::cursor`]) is
    ///   a position and never NotFound, even once its thread is deleted.
    async fn list_threads(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Thread>, StoreError>;

    /// Counts the threads of `user_id` (what the per-user cap is checked against). Must be
    /// cheap: an indexed count over at most the cap's worth of rows.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Unavailable`] when no connection could be had in time.
    async fn count_threads(&self, user_id: &str) -> Result<u64, StoreError>;

    /// Counts the items of a thread of `user_id`, hidden ones included (what the per-thread cap
    /// is checked against); 0 for a thread this user does not have.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Unavailable`] when no connection could be had in time.
    async fn count_items(&self, user_id: &str, thread_id: &str) -> Result<u64, StoreError>;

    /// Updates title, status and metadata of an existing thread of `thread.user_id`.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when it does not exist for that user.
    async fn save_thread(&self, thread: &Thread) -> Result<(), StoreError>;

    /// Deletes a thread with its items, study state and feedback.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when it does not exist for this user.
    async fn delete_thread(&self, user_id: &str, thread_id: &str) -> Result<(), StoreError>;

    /// Inserts an item, or replaces the item with the same id in place (keeping its position).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread does not exist for this user.
    async fn add_item(&self, user_id: &str, item: &ThreadItem) -> Result<(), StoreError>;

    /// Loads one item of a thread.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread or the item does not exist.
    async fn get_item(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<ThreadItem, StoreError>;

    /// Lists the items of a thread, hidden ones included (callers filter).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread does not exist for this user, or
    ///   `page.after` is a plain id (the older form) that names no item of it. An opaque
    ///   cursor is a position and never NotFound, even once its item is deleted.
    async fn list_items(
        &self,
        user_id: &str,
        thread_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ThreadItem>, StoreError>;

    /// Deletes every item strictly after `item_id` in `(created_at, id)` order; returns how many.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread or the item does not exist.
    async fn delete_items_after(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<u64, StoreError>;

    /// Loads the study state of a thread (`None` before the first teach turn).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread does not exist for this user.
    async fn load_study_state(
        &self,
        user_id: &str,
        thread_id: &str,
    ) -> Result<Option<StudyState>, StoreError>;

    /// Writes the outcome of a turn atomically: all of it, or (on error) none of it.
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread does not exist for this user
    ///   (e.g. it was deleted while the model was answering); nothing is written then.
    async fn commit_turn(&self, user_id: &str, turn: &TurnCommit) -> Result<(), StoreError>;

    /// Records a rating of assistant items (replacing an earlier rating of the same item).
    ///
    /// # Errors
    /// - MUST return [`StoreError::NotFound`] when the thread or any item does not exist.
    async fn add_feedback(
        &self,
        user_id: &str,
        thread_id: &str,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<(), StoreError>;
}

/// Turns a bearer token into a [`Principal`].
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token`.
    ///
    /// # Errors
    /// - MUST return [`AuthError::Invalid`] for any token it does not accept (never a panic,
    ///   including for a token without a subject).
    /// - MUST return [`AuthError::Unavailable`] only when it cannot decide for lack of keys.
    async fn verify(&self, token: &str) -> Result<Principal, AuthError>;
}

/// Stored API keys (`sk_<id>_<secret>`); only hashes of secrets are ever stored.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a new key.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the id exists.
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The key with `id`, revoked or not; `None` when there is none.
    async fn find(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Every key, oldest first.
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Marks the key revoked at `at`.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when no key has `id`; revoking twice keeps the
    /// first time.
    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records that the key authenticated a request at `at` (missing id: no-op).
    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Failure of a [`RateLimiter`] backend. Callers fall back to an in-process limiter.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The backend did not answer within its timeout.
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),
}

/// Atomic multi-window check-and-consume.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Checks `key` against every window; consumes one unit in each only when all allow it.
    ///
    /// # Errors
    /// - MUST return [`RateLimitError::Unavailable`] when the backend fails; never a rejection.
    async fn check(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError>;

    /// Reports the state of `key` without consuming anything.
    ///
    /// # Errors
    /// - MUST return [`RateLimitError::Unavailable`] when the backend fails.
    async fn peek(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError>;
}

/// Failure of a [`TutorModel`] call.
#[derive(Debug, thiserror::Error)]
pub enum TutorError {
    /// The provider refused or failed; the message is safe to log, not to show.
    #[error("tutor model unavailable: {0}")]
    Unavailable(String),
    /// The provider did not send anything within the allowed time.
    #[error("tutor model timed out")]
    Timeout,
}

/// Stream of answer chunks from the model.
pub type TutorStream = BoxStream<'static, Result<TutorChunk, TutorError>>;

/// The language model that writes the tutor's words.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TutorModel: Send + Sync + 'static {
    /// Starts streaming an answer to `prompt`; text deltas keep their whitespace exactly, and
    /// the stream ends with one [`TutorChunk::Done`].
    ///
    /// # Errors
    /// - MUST return [`TutorError::Unavailable`] when the request cannot be started.
    async fn stream(&self, prompt: Prompt) -> Result<TutorStream, TutorError>;
}

/// A dependency whose health readiness reports (the database, Redis).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Pingable: Send + Sync + 'static {
    /// One round trip.
    ///
    /// # Errors
    /// Returns a short, secret-free description of the failure.
    async fn ping(&self) -> Result<(), String>;
}

/// Proof that a turn lock is held.
///
/// Dropping it releases the lock in the background (a safety net that works from any code
/// path, a panic included); [`TurnGuard::release`] releases it and lets the caller wait until
/// the backend confirmed, so the next turn of the thread never finds it still held.
pub trait TurnGuard: Send + Sync + 'static {
    /// Releases the lock now; the future resolves once the backend confirmed the release or
    /// gave up on it (e.g. because the lock expired meanwhile, which frees it as well). It is
    /// `'static`, so it may outlive the guard's owner.
    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        drop(self);
        Box::pin(std::future::ready(()))
    }
}

/// Failure of a [`TurnLock`] backend.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The backend did not answer.
    #[error("turn lock unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// One tutoring turn at a time per thread, across every replica sharing the backend.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TurnLock: Send + Sync + 'static {
    /// Takes the lock of `thread_id` while the returned guard lives, for at most `ttl`: a lock
    /// whose holder died or stopped renewing it frees itself (after `ttl` at the latest; a
    /// backend that renews a short lease while the guard lives frees it much sooner), so a
    /// crashed replica cannot block a thread for long.
    ///
    /// # Errors
    /// - MUST return `Ok(None)` when another turn holds the lock.
    /// - MUST return [`LockError::Unavailable`] when the backend fails.
    async fn try_acquire(
        &self,
        thread_id: &str,
        ttl: Duration,
    ) -> Result<Option<Box<dyn TurnGuard>>, LockError>;
}
