//! What a worker does with each task: list a run's lessons and queue one task each, or sync one
//! lesson through every stage. Both are idempotent.

use async_trait::async_trait;
use futures::StreamExt;

use super::lesson::{LessonResult, StageFailure};
use super::metrics::{TaskKind, TaskOutcome};
use super::{SyncService, task_id};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{QueuedTask, TaskAttempt, TaskHandler};
use crate::domain::progress::{Stage, StageStatus};
use crate::domain::sync::{LessonOutcome, SyncRunId, SyncScope, SyncTask};

#[async_trait]
impl TaskHandler for SyncService {
    async fn handle(&self, task: SyncTask, attempt: TaskAttempt) -> Result<(), String> {
        let kind = match task {
            SyncTask::List { .. } => TaskKind::List,
            SyncTask::Lesson { .. } => TaskKind::Lesson,
        };
        self.metrics.try_started(kind, attempt.number);
        let result = match task {
            SyncTask::List { run } => self
                .list_run(&run, &attempt)
                .await
                .map(|()| TaskOutcome::Listed),
            SyncTask::Lesson { run, path, version } => self
                .sync_lesson(&run, &path, version, &attempt)
                .await
                .map(|result| match result {
                    LessonResult::Synced => TaskOutcome::Synced,
                    LessonResult::Unchanged => TaskOutcome::Unchanged,
                    LessonResult::Removed => TaskOutcome::Removed,
                }),
        };
        let outcome = match &result {
            Ok(outcome) => *outcome,
            Err(_) if attempt.is_last() => TaskOutcome::Dead,
            Err(_) => TaskOutcome::Retrying,
        };
        self.metrics.try_ended(kind, outcome);
        result.map(|_| ())
    }
}

impl SyncService {
    async fn list_run(&self, run: &SyncRunId, attempt: &TaskAttempt) -> Result<(), String> {
        let result = self.try_list(run).await;
        if let Err(error) = &result {
            tracing::warn!(run = %run, attempt = attempt.number, %error, "book listing failed");
            if attempt.is_last() {
                let _ = self.deps.runs.listing_failed(run, error).await;
            }
        }
        result
    }

    async fn try_list(&self, run: &SyncRunId) -> Result<(), String> {
        let Some(report) = self.deps.runs.get(run).await.map_err(|e| e.to_string())? else {
            tracing::warn!(run = %run, "listing task of an unknown run; dropped");
            return Ok(());
        };
        let (listing, removed): (Vec<(LessonPath, Option<String>)>, Vec<LessonPath>) = match &report
            .run
            .scope
        {
            SyncScope::Paths(paths) => (paths.iter().map(|p| (p.clone(), None)).collect(), vec![]),
            SyncScope::Book => {
                let Some(catalog) = &self.deps.catalog else {
                    return Err("no catalog configured: name the lessons to sync".into());
                };
                let entries = catalog.list().await.map_err(|e| e.to_string())?;
                let listed: std::collections::BTreeSet<&str> =
                    entries.iter().map(|e| e.path.as_str()).collect();
                let stored = self.deps.book.paths().await.map_err(|e| e.to_string())?;
                let removed = stored
                    .into_iter()
                    .filter(|p| !listed.contains(p.as_str()))
                    .collect();
                (
                    entries
                        .into_iter()
                        .map(|e| (e.path, Some(e.version)))
                        .collect(),
                    removed,
                )
            }
        };
        let tasks: Vec<QueuedTask> = listing
            .iter()
            .map(|(path, version)| QueuedTask {
                id: task_id(),
                task: SyncTask::Lesson {
                    run: run.clone(),
                    path: path.clone(),
                    version: version.clone(),
                },
            })
            .collect();
        let recorded: Vec<(LessonPath, String)> = tasks
            .iter()
            .zip(&listing)
            .map(|(task, (path, _))| (path.clone(), task.id.clone()))
            .collect();
        self.deps
            .runs
            .listed(run, &recorded)
            .await
            .map_err(|e| e.to_string())?;
        if !removed.is_empty() {
            self.deps
                .book
                .remove(&removed)
                .await
                .map_err(|e| e.to_string())?;
            // Recorded straight as removed: they have no task.
            for path in &removed {
                self.deps
                    .runs
                    .set_outcome(run, path, LessonOutcome::Removed, 1, None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        // A listed lesson's stages start again (32 at a time: a book has thousands).
        let progress = &self.deps.progress;
        futures::stream::iter(
            listing
                .iter()
                .flat_map(|(p, _)| Stage::ALL.map(|stage| (p.as_str(), stage))),
        )
        .for_each_concurrent(32, |(path, stage)| async move {
            progress
                .set_progress(path, stage, StageStatus::Pending, None)
                .await;
        })
        .await;
        self.deps
            .queue
            .enqueue(&tasks)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            run = %run,
            lessons = tasks.len(),
            removed = removed.len(),
            "book listed; lesson tasks queued"
        );
        Ok(())
    }

    async fn sync_lesson(
        &self,
        run: &SyncRunId,
        path: &LessonPath,
        version: Option<String>,
        attempt: &TaskAttempt,
    ) -> Result<LessonResult, String> {
        let runs = &self.deps.runs;
        // Bookkeeping failures fail the try: the outcome must not be lost.
        runs.set_outcome(run, path, LessonOutcome::Running, attempt.number, None)
            .await
            .map_err(|e| e.to_string())?;
        // Whatever the try's number: a worker that took over a dead one's task may count it 1.
        match self.run_stages(path, version, run.started_at()).await {
            Ok(result) => {
                let outcome = match result {
                    LessonResult::Synced => LessonOutcome::Synced,
                    LessonResult::Unchanged => LessonOutcome::Unchanged,
                    LessonResult::Removed => LessonOutcome::Removed,
                };
                runs.set_outcome(run, path, outcome, attempt.number, None)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(result)
            }
            Err(StageFailure { stage, reason }) => {
                self.deps
                    .progress
                    .set_progress(path.as_str(), stage, StageStatus::Failed, Some(&reason))
                    .await;
                let outcome = if attempt.is_last() {
                    LessonOutcome::Dead
                } else {
                    LessonOutcome::Retrying
                };
                tracing::warn!(
                    run = %run, lesson = %path, %stage, attempt = attempt.number,
                    max = attempt.max, %reason, "lesson sync failed"
                );
                let detail = format!("{stage}: {reason}");
                let _ = runs
                    .set_outcome(run, path, outcome, attempt.number, Some(&detail))
                    .await;
                Err(detail)
            }
        }
    }
}
