//! Ports of the book sync: the synced book and its search index, the record of sync runs, the
//! job queue the runs' tasks travel on, and the embeddings model.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::book::LessonAnalysis;
use crate::domain::lesson::LessonPath;
use crate::domain::sync::{LessonOutcome, RunReport, SyncRun, SyncRunId, SyncTask};

/// What the book store remembers of a synced lesson, to skip it when it has not changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonStamp {
    /// The catalog's version of the file when it was synced (`None` when it was not listed).
    pub version: Option<String>,
    /// The source's validator for a conditional fetch, when it gave one.
    pub etag: Option<String>,
    /// SHA-256 of the markdown (hex).
    pub content_hash: String,
    /// When it was synced.
    pub synced_at: DateTime<Utc>,
}

/// One section of a lesson as the search index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedSection {
    /// Position in the lesson, from 0.
    pub index: u32,
    /// Heading.
    pub title: String,
    /// Text (markdown).
    pub text: String,
    /// Its embedding, when an embeddings model is configured.
    pub vector: Option<Vec<f32>>,
}

/// A synced lesson, written in one transaction with its sections.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedLesson {
    /// What it is checked against next time.
    pub stamp: LessonStamp,
    /// QUALITY, TAXONOMY and GRAPH of the lesson.
    pub analysis: LessonAnalysis,
    /// EMBEDDING: its sections (replacing every section indexed before).
    pub sections: Vec<IndexedSection>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The lesson.
    pub path: LessonPath,
    /// The section's position.
    pub index: u32,
    /// The section's heading.
    pub title: String,
    /// Relevance, higher is better (backend-specific scale).
    pub score: f64,
    /// The lesson's title.
    pub lesson_title: String,
    /// The section's text (markdown), as indexed.
    pub text: String,
}

/// A section's embedding, as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionVector {
    /// The lesson.
    pub path: LessonPath,
    /// The section's position.
    pub index: u32,
    /// The embedding.
    pub vector: Vec<f32>,
}

/// What changes whenever the index does: compared to know when what was read from it is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexVersion {
    /// Lessons in the index.
    pub lessons: u64,
    /// When the latest of them was synced (microseconds since the Unix epoch), if any.
    pub latest_sync: Option<i64>,
}

/// The book as the last syncs left it: every lesson's analysis and the search index.
#[async_trait]
pub trait BookStore: Send + Sync + 'static {
    /// The stamp of a synced lesson; `None` when it never was (or was removed).
    async fn stamp(&self, path: &LessonPath) -> Result<Option<LessonStamp>, StoreError>;

    /// Writes a lesson, its analysis and its sections in one transaction, replacing what was
    /// there (idempotent).
    async fn put(&self, lesson: &SyncedLesson) -> Result<(), StoreError>;

    /// Removes lessons and their sections (idempotent); returns how many were there.
    async fn remove(&self, paths: &[LessonPath]) -> Result<u64, StoreError>;

    /// Every synced lesson's path (sorted).
    async fn paths(&self) -> Result<Vec<LessonPath>, StoreError>;

    /// Every synced lesson's analysis (sorted by path), to assemble the book from.
    async fn analyses(&self) -> Result<Vec<LessonAnalysis>, StoreError>;

    /// Full-text search over the sections: at most `limit` hits, best first. `query` is plain
    /// words (the adapter quotes them; no query syntax reaches the backend); a section
    /// matching any of them is a hit, more and rarer words ranking higher.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError>;

    /// The stored embeddings of sections (sorted by path and position), at most `limit`.
    async fn vectors(&self, limit: u32) -> Result<Vec<SectionVector>, StoreError>;

    /// The sections at `keys` (lesson, position), in that order, with score 0; keys not in the
    /// index are left out.
    async fn sections(&self, keys: &[(LessonPath, u32)]) -> Result<Vec<SearchHit>, StoreError>;

    /// What the index looks like now, to tell whether it changed.
    async fn version(&self) -> Result<IndexVersion, StoreError>;
}

/// The record of sync runs and of what became of each lesson in them.
#[async_trait]
pub trait SyncRunStore: Send + Sync + 'static {
    /// Records a new run.
    async fn create(&self, run: &SyncRun) -> Result<(), StoreError>;

    /// Sets the queue's id of the run's listing task.
    async fn set_task(&self, run: &SyncRunId, task_id: &str) -> Result<(), StoreError>;

    /// Records the run's lessons (each `Queued` with its task id) and marks the run listed.
    /// Idempotent: a lesson already recorded keeps its outcome; its task id is replaced.
    async fn listed(
        &self,
        run: &SyncRunId,
        lessons: &[(LessonPath, String)],
    ) -> Result<(), StoreError>;

    /// Records that listing failed for good.
    async fn listing_failed(&self, run: &SyncRunId, error: &str) -> Result<(), StoreError>;

    /// Sets one lesson's outcome, tries and error (bounded by the adapter).
    async fn set_outcome(
        &self,
        run: &SyncRunId,
        path: &LessonPath,
        outcome: LessonOutcome,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// A run with its lessons; `None` when unknown.
    async fn get(&self, run: &SyncRunId) -> Result<Option<RunReport>, StoreError>;

    /// The newest runs first, at most `limit`, with their lessons.
    async fn list(&self, limit: u32) -> Result<Vec<RunReport>, StoreError>;

    /// Deletes runs created before `before`, with their lessons, at most 500 per call;
    /// returns how many runs went.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Failure of a [`JobQueue`] call.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The queue's database could not be reached in time.
    #[error("job queue unavailable: {0}")]
    Unavailable(String),
}

/// A task with the id the queue will know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The queue's id (a ULID, chosen before the push so it can be recorded first).
    pub id: String,
    /// The work.
    pub task: SyncTask,
}

/// The durable job queue (at-least-once; workers take tasks from it elsewhere).
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Pushes tasks, each tried up to the queue's maximum attempts.
    async fn enqueue(&self, tasks: &[QueuedTask]) -> Result<(), JobError>;

    /// Puts dead tasks back on the queue with their tries reset; returns how many were dead.
    /// A task that is not dead is left alone.
    async fn retry(&self, task_ids: &[String]) -> Result<u64, JobError>;

    /// Deletes tasks that ended (done or dead) before `before`; returns how many.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, JobError>;
}

/// Failure of an [`Embedder`] call.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The provider failed, timed out or answered something unusable.
    #[error("embeddings unavailable: {0}")]
    Unavailable(String),
}

/// An embeddings model (OpenAI-compatible `/embeddings`).
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// The model's name, for logs and status details.
    fn model(&self) -> &str;

    /// One vector per input, in order.
    async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Which try of a task a handler is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAttempt {
    /// The queue's id of the task.
    pub task_id: String,
    /// This try, from 1.
    pub number: u32,
    /// The last try before the task is dead (`JOB_MAX_ATTEMPTS`).
    pub max: u32,
}

impl TaskAttempt {
    /// Whether a failure of this try makes the task dead.
    pub fn is_last(&self) -> bool {
        self.number >= self.max
    }
}

/// What a worker runs for each task it takes from the queue. Handlers are idempotent.
#[async_trait]
pub trait TaskHandler: Send + Sync + 'static {
    /// Runs one try of `task`.
    ///
    /// # Errors
    /// A short, secret-free reason; the queue tries again (with backoff) until the task is
    /// dead.
    async fn handle(&self, task: SyncTask, attempt: TaskAttempt) -> Result<(), String>;
}
