//! Ports of the lesson side: where lessons come from, the caches in front of the source, the
//! fan-out of purges across replicas and the log of webhook deliveries already acted on.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::domain::lesson::{CachedLesson, LessonPath, RawLesson};

/// Failure of a [`LessonSource`] fetch.
#[derive(Debug, thiserror::Error)]
pub enum LessonSourceError {
    /// The source says no such lesson exists (under any tried extension).
    #[error("lesson not found")]
    NotFound,
    /// The source failed or timed out; a stale copy may be served instead.
    #[error("lesson source unavailable: {0}")]
    Unavailable(String),
    /// The source refused for its rate limit (HTTP 429, or 403 with rate-limit headers), or a
    /// circuit breaker in front of it is open: nothing should be asked of it for
    /// `retry_after` (when known). A stale copy may be served instead.
    #[error("lesson source backing off: {reason}")]
    Backoff {
        /// How long to leave the source alone, when known.
        retry_after: Option<Duration>,
        /// Short, secret-free description.
        reason: String,
    },
}

/// Where lesson markdown comes from (GitHub, a local folder).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait LessonSource: Send + Sync + 'static {
    /// Fetches the raw markdown of a validated path.
    ///
    /// # Errors
    /// - MUST return [`LessonSourceError::NotFound`] only when the source positively says so.
    /// - MUST return [`LessonSourceError::Unavailable`] on timeouts and upstream failures.
    /// - SHOULD return [`LessonSourceError::Backoff`] when the upstream refuses for its rate
    ///   limit, with its `Retry-After` (or rate-limit reset) as the hint.
    async fn fetch(&self, path: &LessonPath) -> Result<RawLesson, LessonSourceError>;

    /// Fetches a lesson unless it still matches `etag` (a validator an earlier
    /// [`Conditional::Modified`] gave): a conditional request, so an unchanged lesson costs
    /// no download. A source without validators fetches every time (the default).
    ///
    /// # Errors
    /// As [`LessonSource::fetch`].
    async fn fetch_if_changed(
        &self,
        path: &LessonPath,
        etag: Option<String>,
    ) -> Result<Conditional, LessonSourceError> {
        let _ = etag;
        Ok(Conditional::Modified {
            lesson: self.fetch(path).await?,
            etag: None,
        })
    }
}

/// What a conditional fetch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional {
    /// The lesson changed (or no validator was given): its text, and its new validator.
    Modified {
        /// The lesson.
        lesson: RawLesson,
        /// The source's validator (an HTTP `ETag`), when it gave one.
        etag: Option<String>,
    },
    /// The lesson still matches the validator given: nothing was downloaded.
    NotModified,
}

/// Failure of a [`LessonCache`] call. Callers treat every cache error as a miss.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache backend did not answer in time or refused the connection.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// What a cache knows about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLookup {
    /// A copy; `stale` is set when it outlived its freshness but is still retained.
    Hit(CachedLesson),
    /// The source recently said this lesson does not exist (a short negative entry).
    Missing,
    /// Nothing cached.
    Miss,
}

/// Lesson cache with freshness and stale-if-error retention. Keys are namespaced by repository
/// and branch and versioned by the adapter; failures of the source are never stored.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait LessonCache: Send + Sync + 'static {
    /// Looks a path up; an entry past `fresh_for` comes back with `stale: true` until its
    /// retention ends.
    ///
    /// # Errors
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot be reached (callers
    ///   then treat it as a miss).
    async fn get(&self, path: &LessonPath) -> Result<CacheLookup, CacheError>;

    /// Stores a good copy, fresh for `fresh_for` and retained (for stale-if-error) for `retain`.
    ///
    /// # Errors
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot be reached.
    async fn put(
        &self,
        lesson: &CachedLesson,
        fresh_for: Duration,
        retain: Duration,
    ) -> Result<(), CacheError>;

    /// Remembers for `ttl` (at most 60 s) that the source has no such lesson.
    ///
    /// # Errors
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot be reached.
    async fn put_missing(&self, path: &LessonPath, ttl: Duration) -> Result<(), CacheError>;

    /// Purges the given paths, or every lesson when `paths` is empty — without scanning a
    /// keyspace. A purged copy is not deleted: it reads as stale (so the next read fetches
    /// again, and serves it while the source fails) until its retention ends; negative entries
    /// are removed. Returns how many paths had a copy or a negative entry (for "all": how many
    /// entries this tier held, or 0 when unknown).
    ///
    /// # Errors
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot be reached.
    async fn invalidate(&self, paths: &[LessonPath]) -> Result<u64, CacheError>;
}

/// A purge announced to every replica (their in-process caches drop the paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// These lessons.
    Paths(Vec<LessonPath>),
    /// Every lesson.
    All,
}

/// Fan-out of purges across replicas (Redis pub/sub).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait InvalidationBus: Send + Sync + 'static {
    /// Announces a purge to every replica, this one included.
    ///
    /// # Errors
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot be reached.
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), CacheError>;

    /// Purges announced by any replica, for as long as the service runs; the stream resumes by
    /// itself after a backend outage.
    async fn subscribe(&self) -> BoxStream<'static, Invalidation>;
}

/// Webhook deliveries already acted on, remembered by every replica.
#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Records `key` for `ttl`.
    ///
    /// # Errors
    /// - MUST return `Ok(true)` only when `key` was not recorded (or its record expired), and
    ///   `Ok(false)` to every later call within `ttl`, whichever replica makes it.
    /// - MUST return [`CacheError::Unavailable`] when the backend cannot answer.
    async fn record(&self, key: &str, ttl: Duration) -> Result<bool, CacheError>;

    /// Forgets `key`, so the delivery is acted on when it comes again.
    ///
    /// # Errors
    /// [`CacheError::Unavailable`] when the backend cannot answer.
    async fn forget(&self, key: &str) -> Result<(), CacheError>;
}

/// One lesson file of the book, as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The lesson's path (no extension; a folder's `index.md`/`README.md` is the folder).
    pub path: crate::domain::lesson::LessonPath,
    /// Changes whenever the file changes (GitHub: the blob's SHA; a folder: size and mtime),
    /// so a sync can skip unchanged lessons.
    pub version: String,
}

/// The whole book in one call: every lesson file under the docs prefix.
#[async_trait]
pub trait LessonCatalog: Send + Sync + 'static {
    /// Every lesson, sorted by path, at most [`crate::domain::book::MAX_BOOK_LESSONS`].
    ///
    /// # Errors
    /// [`LessonSourceError::Unavailable`] or [`LessonSourceError::Backoff`] when the listing
    /// cannot be had; never a partial list without saying so in the log.
    async fn list(&self) -> Result<Vec<CatalogEntry>, LessonSourceError>;
}
