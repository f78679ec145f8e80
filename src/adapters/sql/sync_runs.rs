//! SyncRunStore on SeaORM (Postgres and SQLite): one `sync_runs` row per run (its scope as
//! JSON) and one `sync_run_lessons` row per lesson of it; instants are exact microseconds.
//!
//! Recording the listing is an upsert that only replaces a lesson's task id, so a listing task
//! run twice (the queue delivers at least once) never sets a lesson back to `queued`; it writes
//! the lessons in batches, in one transaction with the run's `listed_at`.

mod convert;
mod entities;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

use self::convert::{from_lesson_row, from_run_row, run_row};
use self::entities::{run, run_lesson};
use super::{Database, classify, now_micros, txn};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{StoreError, SyncRunStore};
use crate::domain::sync::{
    LessonOutcome, RunLesson, RunReport, SyncRun, SyncRunId, bound_run_error,
};

/// Most runs one [`SyncRunStore::list`] returns.
pub const MAX_LISTED_RUNS: u32 = 100;

/// Lesson rows per `INSERT` (7 values each: 7,000 parameters, under SQLite's 32,766 and
/// Postgres' 65,535).
const LESSON_ROWS_PER_INSERT: usize = 1000;

/// [`SyncRunStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlSyncRunStore {
    db: Database,
}

impl SqlSyncRunStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Sets one column of a run; NotFound when there is no such run.
    async fn update_run(
        &self,
        action: &'static str,
        id: &SyncRunId,
        column: run::Column,
        value: String,
    ) -> Result<(), StoreError> {
        self.db
            .write(action, async {
                let done = run::Entity::update_many()
                    .col_expr(column, Expr::value(value))
                    .filter(run::Column::Id.eq(id.as_str()))
                    .exec(self.db.connection())
                    .await
                    .map_err(|e| classify(e, action))?;
                if done.rows_affected == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }
}

/// Maps a write's error; a missing run (foreign key) is NotFound.
fn run_err(action: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match err.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound,
        _ => classify(err, action),
    }
}

#[async_trait]
impl SyncRunStore for SqlSyncRunStore {
    async fn create(&self, run: &SyncRun) -> Result<(), StoreError> {
        let row = run_row(run)?;
        self.db
            .write("create sync run", async {
                run::Entity::insert(row)
                    .exec_without_returning(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "create sync run"))?;
                Ok(())
            })
            .await
    }

    async fn set_task(&self, run: &SyncRunId, task_id: &str) -> Result<(), StoreError> {
        self.update_run(
            "set sync run task",
            run,
            run::Column::TaskId,
            task_id.into(),
        )
        .await
    }

    async fn listed(
        &self,
        run: &SyncRunId,
        lessons: &[(LessonPath, String)],
    ) -> Result<(), StoreError> {
        // One row per path (the last task id wins): Postgres refuses an upsert that would touch
        // the same row twice.
        let unique: BTreeMap<&str, &str> = lessons
            .iter()
            .map(|(path, task)| (path.as_str(), task.as_str()))
            .collect();
        let unique: Vec<_> = unique.into_iter().collect();
        self.db
            .write("record listed lessons", async {
                let now = now_micros();
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    let marked = run::Entity::update_many()
                        .col_expr(run::Column::ListedAt, Expr::value(now))
                        // A listing retried after it had died clears its error.
                        .col_expr(run::Column::Error, Expr::value(Option::<String>::None))
                        .filter(run::Column::Id.eq(run.as_str()))
                        .filter(run::Column::ListedAt.is_null())
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "mark sync run listed"))?;
                    if marked.rows_affected == 0 {
                        let known = run::Entity::find_by_id(run.as_str())
                            .select_only()
                            .column(run::Column::Id)
                            .into_tuple::<String>()
                            .one(&txn)
                            .await
                            .map_err(|e| classify(e, "find sync run"))?;
                        if known.is_none() {
                            return Err(StoreError::NotFound);
                        }
                    }
                    for chunk in unique.chunks(LESSON_ROWS_PER_INSERT) {
                        let rows = chunk.iter().map(|(path, task)| run_lesson::ActiveModel {
                            run_id: Set(run.as_str().to_owned()),
                            path: Set((*path).to_owned()),
                            outcome: Set(LessonOutcome::Queued.as_str().to_owned()),
                            attempts: Set(0),
                            error: Set(None),
                            task_id: Set(Some((*task).to_owned())),
                            updated_at: Set(now),
                        });
                        let keep_outcome = OnConflict::columns([
                            run_lesson::Column::RunId,
                            run_lesson::Column::Path,
                        ])
                        .update_column(run_lesson::Column::TaskId)
                        .to_owned();
                        run_lesson::Entity::insert_many(rows)
                            .on_conflict(keep_outcome)
                            .exec_without_returning(&txn)
                            .await
                            .map_err(run_err("record listed lessons"))?;
                    }
                    Ok(())
                }
                .await;
                txn::finish(txn, result, "record listed lessons").await
            })
            .await
    }

    async fn listing_failed(&self, run: &SyncRunId, error: &str) -> Result<(), StoreError> {
        self.update_run(
            "record sync run failure",
            run,
            run::Column::Error,
            bound_run_error(error),
        )
        .await
    }

    async fn set_outcome(
        &self,
        run: &SyncRunId,
        path: &LessonPath,
        outcome: LessonOutcome,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let row = run_lesson::ActiveModel {
            run_id: Set(run.as_str().to_owned()),
            path: Set(path.as_str().to_owned()),
            outcome: Set(outcome.as_str().to_owned()),
            attempts: Set(i32::try_from(attempts).unwrap_or(i32::MAX)),
            error: Set(error.map(bound_run_error)),
            task_id: Set(None),
            updated_at: Set(now_micros()),
        };
        self.db
            .write("set lesson outcome", async {
                // A lesson the listing did not record (it raced this write) is recorded now.
                let on_conflict =
                    OnConflict::columns([run_lesson::Column::RunId, run_lesson::Column::Path])
                        .update_columns([
                            run_lesson::Column::Outcome,
                            run_lesson::Column::Attempts,
                            run_lesson::Column::Error,
                            run_lesson::Column::UpdatedAt,
                        ])
                        .to_owned();
                run_lesson::Entity::insert(row)
                    .on_conflict(on_conflict)
                    .exec_without_returning(self.db.connection())
                    .await
                    .map_err(run_err("set lesson outcome"))?;
                Ok(())
            })
            .await
    }

    async fn get(&self, id: &SyncRunId) -> Result<Option<RunReport>, StoreError> {
        self.db
            .read("get sync run", async {
                let conn = self.db.connection();
                let Some(row) = run::Entity::find_by_id(id.as_str())
                    .one(conn)
                    .await
                    .map_err(|e| classify(e, "get sync run"))?
                else {
                    return Ok(None);
                };
                let mut lessons = lessons_of(conn, &[id.as_str()]).await?;
                let lessons = lessons.remove(id.as_str()).unwrap_or_default();
                Ok(Some(RunReport {
                    run: from_run_row(row)?,
                    lessons,
                }))
            })
            .await
    }

    async fn list(&self, limit: u32) -> Result<Vec<RunReport>, StoreError> {
        self.db
            .read("list sync runs", async {
                let conn = self.db.connection();
                let rows = run::Entity::find()
                    .order_by_desc(run::Column::CreatedAt)
                    .order_by_desc(run::Column::Id)
                    .limit(u64::from(limit.clamp(1, MAX_LISTED_RUNS)))
                    .all(conn)
                    .await
                    .map_err(|e| classify(e, "list sync runs"))?;
                let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                let mut lessons = lessons_of(conn, &ids).await?;
                let mut reports = Vec::with_capacity(rows.len());
                for row in rows {
                    let lessons = lessons.remove(row.id.as_str()).unwrap_or_default();
                    reports.push(RunReport {
                        run: from_run_row(row)?,
                        lessons,
                    });
                }
                Ok(reports)
            })
            .await
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.prune_runs(before).await
    }
}

impl SqlSyncRunStore {
    /// [`SyncRunStore::prune`]: the oldest runs first, 500 at most, lessons then runs, in one
    /// transaction.
    async fn prune_runs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = before.timestamp_micros();
        self.db
            .write("prune sync runs", async {
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    let old: Vec<String> = run::Entity::find()
                        .select_only()
                        .column(run::Column::Id)
                        .filter(run::Column::CreatedAt.lt(cutoff))
                        .order_by_asc(run::Column::CreatedAt)
                        .limit(500)
                        .into_tuple::<String>()
                        .all(&txn)
                        .await
                        .map_err(|e| classify(e, "find old sync runs"))?;
                    if old.is_empty() {
                        return Ok(0);
                    }
                    run_lesson::Entity::delete_many()
                        .filter(run_lesson::Column::RunId.is_in(old.iter().map(String::as_str)))
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "delete old sync run lessons"))?;
                    let gone = run::Entity::delete_many()
                        .filter(run::Column::Id.is_in(old.iter().map(String::as_str)))
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "delete old sync runs"))?;
                    Ok(gone.rows_affected)
                }
                .await;
                txn::finish(txn, result, "prune sync runs").await
            })
            .await
    }
}

/// The lessons of `runs`, by run, each run's sorted by path.
async fn lessons_of(
    conn: &DatabaseConnection,
    runs: &[&str],
) -> Result<HashMap<String, Vec<RunLesson>>, StoreError> {
    let mut by_run: HashMap<String, Vec<RunLesson>> = HashMap::new();
    if runs.is_empty() {
        return Ok(by_run);
    }
    let rows = run_lesson::Entity::find()
        .filter(run_lesson::Column::RunId.is_in(runs.iter().copied()))
        .order_by_asc(run_lesson::Column::RunId)
        .order_by_asc(run_lesson::Column::Path)
        .all(conn)
        .await
        .map_err(|e| classify(e, "read sync run lessons"))?;
    for row in rows {
        let run_id = row.run_id.clone();
        by_run
            .entry(run_id)
            .or_default()
            .push(from_lesson_row(row)?);
    }
    Ok(by_run)
}
