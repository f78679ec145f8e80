//! Rows of the run store to domain values and back.

use anyhow::anyhow;
use sea_orm::ActiveValue::Set;

use super::entities::{run, run_lesson};
use crate::adapters::sql::txn;
use crate::domain::lesson::LessonPath;
use crate::domain::ports::StoreError;
use crate::domain::sync::{LessonOutcome, RunLesson, SyncRun, SyncRunId};

/// The row of a new run.
pub(super) fn run_row(run: &SyncRun) -> Result<run::ActiveModel, StoreError> {
    let scope = serde_json::to_string(&run.scope).map_err(|e| {
        StoreError::Unexpected(
            anyhow::Error::new(e).context(format!("encode scope of run {}", run.id)),
        )
    })?;
    Ok(run::ActiveModel {
        id: Set(run.id.as_str().to_owned()),
        scope: Set(scope),
        requested_by: Set(run.requested_by.clone()),
        created_at: Set(run.created_at.timestamp_micros()),
        listed_at: Set(run.listed_at.map(|at| at.timestamp_micros())),
        error: Set(run.error.clone()),
        task_id: Set(run.task_id.clone()),
    })
}

/// A run read back from its row.
pub(super) fn from_run_row(row: run::Model) -> Result<SyncRun, StoreError> {
    let what = format!("sync run {}", row.id);
    let id = SyncRunId::parse(&row.id).map_err(|_| anyhow!("{what} has a malformed id"))?;
    let scope = serde_json::from_str(&row.scope)
        .map_err(|e| anyhow::Error::new(e).context(format!("scope of {what}")))?;
    Ok(SyncRun {
        id,
        scope,
        requested_by: row.requested_by,
        created_at: txn::instant(row.created_at, &what)?,
        listed_at: row
            .listed_at
            .map(|at| txn::instant(at, &what))
            .transpose()?,
        error: row.error,
        task_id: row.task_id,
    })
}

/// A lesson of a run read back from its row.
pub(super) fn from_lesson_row(row: run_lesson::Model) -> Result<RunLesson, StoreError> {
    let what = format!("lesson {} of sync run {}", row.path, row.run_id);
    let outcome = LessonOutcome::parse(&row.outcome)
        .ok_or_else(|| anyhow!("{what} has unknown outcome {:?}", row.outcome))?;
    Ok(RunLesson {
        outcome,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        updated_at: txn::instant(row.updated_at, &what)?,
        error: row.error,
        task_id: row.task_id,
        path: LessonPath::new_unchecked(row.path),
    })
}
