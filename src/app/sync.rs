//! The book sync use cases: start a run, read it, retry what died, and the book it leaves
//! (table of contents, quality report). The worker side — what each queued task does — is in
//! `handler` and `lesson`.

mod handler;
mod lesson;
mod metrics;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::book::{Book, assemble};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{
    BookStore, Embedder, JobError, JobQueue, LessonCatalog, ProgressTracker, QueuedTask,
    StoreError, SyncRunStore,
};
use crate::domain::progress::{ResourceProgress, Stage, StageStatus};
use crate::domain::sync::{
    LessonOutcome, MAX_SYNC_PATHS, RunReport, SyncRun, SyncRunId, SyncScope, SyncTask,
    bound_requester,
};

use super::lessons::LessonService;

/// Why a sync use case failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] JobError),
    /// More paths than [`MAX_SYNC_PATHS`].
    #[error("at most {MAX_SYNC_PATHS} paths per sync")]
    TooManyPaths,
}

/// What the sync needs.
pub struct SyncDeps {
    /// Lists the whole book (`None`: only named lessons can be synced).
    pub catalog: Option<Arc<dyn LessonCatalog>>,
    /// Fetches lessons through the caches.
    pub lessons: Arc<LessonService>,
    /// The synced book.
    pub book: Arc<dyn BookStore>,
    /// The runs.
    pub runs: Arc<dyn SyncRunStore>,
    /// The queue.
    pub queue: Arc<dyn JobQueue>,
    /// Stage progress of each lesson.
    pub progress: Arc<dyn ProgressTracker>,
    /// The embeddings model, when one is configured.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// How long ended runs and tasks are kept (`JOB_RETENTION_DAYS`).
    pub retention: std::time::Duration,
}

pub use metrics::{JobMetrics, TaskKind, TaskOutcome};

/// The book sync.
pub struct SyncService {
    deps: SyncDeps,
    metrics: JobMetrics,
}

/// How many lessons of a run stand where, stage by stage.
pub type StageCounts = BTreeMap<Stage, BTreeMap<StageStatus, u32>>;

impl SyncService {
    /// A sync over `deps`.
    pub fn new(deps: SyncDeps) -> Self {
        Self {
            deps,
            metrics: JobMetrics::default(),
        }
    }

    /// Counts task outcomes on `metrics` (by default on counters no registry exposes).
    #[must_use]
    pub fn with_metrics(mut self, metrics: JobMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Starts a run: records it and queues its listing task. Returns at once.
    ///
    /// # Errors
    /// [`SyncError::TooManyPaths`], or the store or the queue failing (nothing is queued then;
    /// a run recorded before the queue failed reads as failed).
    pub async fn start(
        &self,
        scope: SyncScope,
        requested_by: &str,
    ) -> Result<SyncRunId, SyncError> {
        let scope = match scope {
            SyncScope::Paths(paths) if paths.len() > MAX_SYNC_PATHS => {
                return Err(SyncError::TooManyPaths);
            }
            SyncScope::Paths(mut paths) => {
                paths.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                paths.dedup();
                SyncScope::Paths(paths)
            }
            SyncScope::Book if self.deps.catalog.is_none() => SyncScope::Book,
            other => other,
        };
        let run = SyncRun {
            id: SyncRunId::generate(),
            scope,
            requested_by: bound_requester(requested_by),
            created_at: chrono::Utc::now(),
            listed_at: None,
            error: None,
            task_id: None,
        };
        let task = QueuedTask {
            id: task_id(),
            task: SyncTask::List {
                run: run.id.clone(),
            },
        };
        self.deps.runs.create(&run).await?;
        self.deps.runs.set_task(&run.id, &task.id).await?;
        if let Err(e) = self.deps.queue.enqueue(&[task]).await {
            // The run is recorded but nothing will run it: say so, instead of "queued" forever.
            let _ = self
                .deps
                .runs
                .listing_failed(
                    &run.id,
                    "the job queue could not be reached; start a new sync",
                )
                .await;
            return Err(e.into());
        }
        tracing::info!(run = %run.id, requested_by = %run.requested_by, "book sync queued");
        self.prune().await;
        Ok(run.id)
    }

    /// Deletes runs and ended tasks older than the retention (best effort, at each start: the
    /// history a schedule or a busy webhook leaves stays bounded).
    async fn prune(&self) {
        let Ok(age) = chrono::Duration::from_std(self.deps.retention) else {
            return;
        };
        let before = chrono::Utc::now() - age;
        match self.deps.runs.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(runs = n, "old sync runs deleted"),
            Err(e) => tracing::warn!(error = %e, "old sync runs not deleted"),
        }
        match self.deps.queue.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tasks = n, "old ended tasks deleted"),
            Err(e) => tracing::warn!(error = %e, "old ended tasks not deleted"),
        }
    }

    /// A run with its lessons.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn report(&self, run: &SyncRunId) -> Result<Option<RunReport>, SyncError> {
        Ok(self.deps.runs.get(run).await?)
    }

    /// The newest runs.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn list(&self, limit: u32) -> Result<Vec<RunReport>, SyncError> {
        Ok(self.deps.runs.list(limit).await?)
    }

    /// How the run's lessons stand stage by stage (from the progress tracker: while it is
    /// unreachable every stage reads pending).
    pub async fn stage_counts(&self, report: &RunReport) -> StageCounts {
        let ids: Vec<String> = report
            .lessons
            .iter()
            .map(|l| l.path.as_str().to_string())
            .collect();
        let mut counts: StageCounts = Stage::ALL
            .into_iter()
            .map(|s| (s, BTreeMap::new()))
            .collect();
        for progress in self.deps.progress.get_many(&ids).await {
            for (stage, at) in progress.stages() {
                *counts
                    .entry(*stage)
                    .or_default()
                    .entry(at.status)
                    .or_default() += 1;
            }
        }
        counts
    }

    /// One lesson's stages.
    pub async fn lesson_progress(&self, path: &LessonPath) -> ResourceProgress {
        self.deps.progress.get_progress(path.as_str()).await
    }

    /// Puts the run's dead tasks back on the queue; returns how many.
    ///
    /// # Errors
    /// When the store or the queue fails; `Ok(None)` for an unknown run.
    pub async fn retry(&self, run: &SyncRunId) -> Result<Option<u64>, SyncError> {
        let Some(report) = self.deps.runs.get(run).await? else {
            return Ok(None);
        };
        let dead: Vec<_> = report
            .lessons
            .iter()
            .filter(|l| l.outcome == LessonOutcome::Dead)
            .filter_map(|l| l.task_id.clone().map(|id| (l.path.clone(), id)))
            .collect();
        let mut ids: Vec<String> = dead.iter().map(|(_, id)| id.clone()).collect();
        if report.run.listed_at.is_none()
            && let Some(listing) = &report.run.task_id
        {
            ids.push(listing.clone());
        }
        // Outcomes first: a worker may take a retried task at once, and its `running` must
        // not be overwritten by this `queued`.
        for (path, _) in &dead {
            self.deps
                .runs
                .set_outcome(run, path, LessonOutcome::Queued, 0, None)
                .await?;
        }
        let retried = match self.deps.queue.retry(&ids).await {
            Ok(n) => n,
            Err(e) => {
                for (path, _) in &dead {
                    let _ = self
                        .deps
                        .runs
                        .set_outcome(run, path, LessonOutcome::Dead, 0, Some("retry failed"))
                        .await;
                }
                return Err(e.into());
            }
        };
        tracing::info!(run = %run, retried, "dead sync tasks put back on the queue");
        Ok(Some(retried))
    }

    /// A first run's sync: starts a sync of the whole book when the index holds no lesson (and
    /// no sync is recorded yet, so a book that is really empty is not synced at every start).
    /// Returns the run started, if any.
    ///
    /// # Errors
    /// When the store or the queue fails.
    pub async fn sync_if_empty(&self, requested_by: &str) -> Result<Option<SyncRunId>, SyncError> {
        if !self.deps.book.paths().await?.is_empty() || !self.deps.runs.list(1).await?.is_empty() {
            return Ok(None);
        }
        self.start(SyncScope::Book, requested_by).await.map(Some)
    }

    /// The book as the syncs left it: table of contents, links, quality report.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn book(&self) -> Result<Book, SyncError> {
        Ok(assemble(self.deps.book.analyses().await?))
    }
}

/// A new task id: a ULID (time-ordered; the queue's backends read ids back as ULIDs).
fn task_id() -> String {
    ulid::Ulid::generate().to_string()
}
