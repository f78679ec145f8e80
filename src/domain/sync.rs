//! A sync of the book (no I/O): a run, the tasks a worker takes from the queue for it, and what
//! became of each lesson. The worker side lives in `app/sync`; the queue in `adapters/jobs`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lesson::LessonPath;

/// Most paths one sync request may name.
pub const MAX_SYNC_PATHS: usize = 500;

/// Longest error detail kept for a lesson of a run, in characters.
pub const MAX_RUN_ERROR_CHARS: usize = super::progress::MAX_ERROR_CHARS;

/// The id of a sync run (the "job id" clients see): a UUID v7 in its hyphenated lowercase
/// form, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SyncRunId(String);

impl SyncRunId {
    /// A new id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// Parses an id a client sent: a UUID in hyphenated form (any case; kept lowercase).
    ///
    /// # Errors
    /// When `raw` is not a hyphenated UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidRunId> {
        if raw.len() != 36 {
            return Err(InvalidRunId);
        }
        uuid::Uuid::try_parse(raw)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| InvalidRunId)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When the run was created, read from the id (a UUID v7 holds its creation time to the
    /// millisecond); `None` for an id of another version.
    pub fn started_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let (secs, nanos) = uuid::Uuid::try_parse(&self.0)
            .ok()?
            .get_timestamp()?
            .to_unix();
        chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
    }
}

impl fmt::Display for SyncRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SyncRunId {
    type Error = InvalidRunId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SyncRunId> for String {
    fn from(id: SyncRunId) -> Self {
        id.0
    }
}

/// A run id that is not a hyphenated UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("job id must be a UUID")]
pub struct InvalidRunId;

/// What a run syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "paths", rename_all = "snake_case")]
pub enum SyncScope {
    /// The whole book: the catalog is listed, lessons gone from it are removed.
    Book,
    /// These lessons only (at most [`MAX_SYNC_PATHS`]).
    Paths(Vec<LessonPath>),
}

/// One unit of work on the queue. Handlers are idempotent: running a task twice leaves the
/// same state as running it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum SyncTask {
    /// List the run's lessons (the catalog, or the paths asked for) and enqueue one
    /// [`SyncTask::Lesson`] each.
    List {
        /// The run.
        run: SyncRunId,
    },
    /// Sync one lesson through every stage.
    Lesson {
        /// The run.
        run: SyncRunId,
        /// The lesson.
        path: LessonPath,
        /// The catalog's version of the file when it was listed (`None` when the run named
        /// the lesson without listing the book).
        version: Option<String>,
    },
}

impl SyncTask {
    /// The run the task belongs to.
    pub fn run(&self) -> &SyncRunId {
        match self {
            Self::List { run } | Self::Lesson { run, .. } => run,
        }
    }
}

/// What became of one lesson in a run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum LessonOutcome {
    /// Waiting on the queue.
    #[default]
    Queued,
    /// A worker is on it.
    Running,
    /// Fetched, checked, placed and indexed.
    Synced,
    /// The source has the same version as the last sync: nothing was downloaded.
    Unchanged,
    /// The source no longer has it: removed from the book.
    Removed,
    /// The last try failed; it will be tried again.
    Retrying,
    /// Every try failed (`JOB_MAX_ATTEMPTS`): the dead-letter state, until retried.
    Dead,
}

impl LessonOutcome {
    /// Every outcome, in display order.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Running,
        Self::Synced,
        Self::Unchanged,
        Self::Removed,
        Self::Retrying,
        Self::Dead,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Synced => "synced",
            Self::Unchanged => "unchanged",
            Self::Removed => "removed",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
        }
    }

    /// The outcome named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether nothing more will happen to the lesson in this run (unless it is retried).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Synced | Self::Unchanged | Self::Removed | Self::Dead
        )
    }
}

/// One lesson of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunLesson {
    /// The lesson.
    pub path: LessonPath,
    /// Where it stands.
    pub outcome: LessonOutcome,
    /// Tries so far.
    pub attempts: u32,
    /// The last failure, bounded ([`bound_run_error`]).
    pub error: Option<String>,
    /// The queue's id of the lesson's task (for `jobs retry`).
    pub task_id: Option<String>,
    /// When the outcome was last set.
    pub updated_at: DateTime<Utc>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRun {
    /// Its id.
    pub id: SyncRunId,
    /// What it syncs.
    pub scope: SyncScope,
    /// Who asked (a user id, `cli`, `webhook`, `schedule`), bounded.
    pub requested_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its lessons were listed (the run's first task ended).
    pub listed_at: Option<DateTime<Utc>>,
    /// Why listing failed for good, when it did.
    pub error: Option<String>,
    /// The queue's id of the listing task.
    pub task_id: Option<String>,
}

/// A run with its lessons, as the job API and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run.
    pub run: SyncRun,
    /// Its lessons, by path.
    pub lessons: Vec<RunLesson>,
}

/// Where a run stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Its lessons are not listed yet.
    Queued,
    /// Some lessons are not final yet.
    Running,
    /// Every lesson is final and none is dead.
    Completed,
    /// Every lesson is final and some are dead, or listing failed for good.
    Failed,
}

impl RunStatus {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Whether the run is over (until a dead lesson is retried).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

impl RunReport {
    /// The run's status, computed from its lessons (never stored, so it cannot disagree).
    pub fn status(&self) -> RunStatus {
        if self.run.listed_at.is_none() {
            return if self.run.error.is_some() {
                RunStatus::Failed
            } else {
                RunStatus::Queued
            };
        }
        if self.lessons.iter().any(|l| !l.outcome.is_final()) {
            RunStatus::Running
        } else if self.run.error.is_some()
            || self
                .lessons
                .iter()
                .any(|l| l.outcome == LessonOutcome::Dead)
        {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        }
    }

    /// How many lessons have each outcome (every outcome present, zeros included).
    pub fn counts(&self) -> BTreeMap<LessonOutcome, u32> {
        let mut counts: BTreeMap<LessonOutcome, u32> =
            LessonOutcome::ALL.into_iter().map(|o| (o, 0)).collect();
        for lesson in &self.lessons {
            *counts.entry(lesson.outcome).or_default() += 1;
        }
        counts
    }

    /// When the run ended: the last lesson's final outcome (or the listing's failure); `None`
    /// while it runs.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        if !self.status().is_final() {
            return None;
        }
        self.lessons
            .iter()
            .map(|l| l.updated_at)
            .chain(self.run.listed_at)
            .max()
            .or(Some(self.run.created_at))
    }

    /// Lessons whose last try failed (retrying or dead).
    pub fn failures(&self) -> impl Iterator<Item = &RunLesson> {
        self.lessons
            .iter()
            .filter(|l| matches!(l.outcome, LessonOutcome::Retrying | LessonOutcome::Dead))
    }
}

/// An error detail as a run keeps it: the progress tracker's bound (control characters become
/// spaces, trimmed, at most [`MAX_RUN_ERROR_CHARS`] characters), `failed` when nothing is left.
pub fn bound_run_error(detail: &str) -> String {
    super::progress::bound_error(detail).unwrap_or_else(|| "failed".to_string())
}

/// Bounds who asked for a run: at most 64 printable ASCII characters, `unknown` when empty.
pub fn bound_requester(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    if kept.is_empty() {
        "unknown".to_string()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests;
