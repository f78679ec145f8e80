//! Why a study operation failed, and how store and lesson errors become [`StudyError`]s.

use std::time::Duration;

use crate::app::lessons::LessonError;
use crate::domain::bounds::BoundError;
use crate::domain::ports::StoreError;

/// Why a study operation failed; `http/error.rs` maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The thread does not exist for this user.
    #[error("thread not found")]
    ThreadNotFound,
    /// The item does not exist in this thread.
    #[error("item not found")]
    ItemNotFound,
    /// The input is invalid; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The operation is part of the protocol but not offered by this service.
    #[error("{0} is not supported by this service")]
    Unsupported(String),
    /// A client value is out of bounds (malformed id, text too long, JSON too large).
    #[error(transparent)]
    Bound(#[from] BoundError),
    /// The user has as many threads as allowed; deleting one makes room.
    #[error("at most {limit} threads per user")]
    ThreadLimitReached {
        /// The limit.
        limit: u64,
    },
    /// The thread holds as many items as allowed; a new thread makes room.
    #[error("at most {limit} items per thread")]
    ThreadFull {
        /// The limit.
        limit: u64,
    },
    /// Another turn of this thread is still running.
    #[error("another turn of this thread is in progress")]
    TurnInProgress,
    /// The lesson does not exist.
    #[error("lesson not found")]
    LessonNotFound,
    /// The lesson source failed and nothing usable is cached.
    #[error("lesson temporarily unavailable")]
    LessonUnavailable,
    /// The caller used up its upstream lesson fetches and nothing usable is cached.
    #[error("lesson fetch budget exhausted")]
    LessonFetchBudgetExhausted {
        /// Upstream fetches allowed per user and minute.
        limit: u32,
        /// When the caller may fetch again.
        retry_after: Duration,
    },
    /// The database could not be reached in time.
    #[error("database unavailable")]
    StoreUnavailable,
    /// The student spent the daily token budget of their tier; it resets at 00:00 UTC.
    #[error("daily token budget of {limit} tokens spent")]
    TokenBudgetExhausted {
        /// Tokens per day.
        limit: u64,
        /// Time until the budget resets.
        reset_after: Duration,
    },
    /// Anything else; logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StudyError {
    pub(super) fn from_store(err: StoreError, missing: StudyError) -> Self {
        match err {
            StoreError::NotFound => missing,
            StoreError::Unavailable => StudyError::StoreUnavailable,
            StoreError::Conflict => StudyError::Unexpected(anyhow::anyhow!("id conflict")),
            StoreError::Unexpected(e) => StudyError::Unexpected(e),
        }
    }
}

pub(super) fn lesson_err(err: LessonError) -> StudyError {
    match err {
        LessonError::NotFound => StudyError::LessonNotFound,
        LessonError::FetchBudgetExhausted { limit, retry_after } => {
            StudyError::LessonFetchBudgetExhausted { limit, retry_after }
        }
        LessonError::Unavailable | LessonError::SourceBackingOff { .. } => {
            StudyError::LessonUnavailable
        }
    }
}

pub(super) fn thread_err(err: StoreError) -> StudyError {
    StudyError::from_store(err, StudyError::ThreadNotFound)
}
