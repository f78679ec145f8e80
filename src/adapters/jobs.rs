//! Outbound adapter: the job queue of the book sync on apalis — its Postgres backend in
//! production, its SQLite backend on the embedded default (docs/design/job-engine.md).
//!
//! apalis gives delivery (Postgres `FOR UPDATE SKIP LOCKED`, SQLite `UPDATE … RETURNING`),
//! worker heartbeats, re-queueing of a dead worker's tasks by the live ones, in-process retries
//! with exponential backoff, and graceful shutdown. Three things it lacks are our SQL on its
//! tables (`sql.rs`): putting a dead task back, handing back at once what a stopping worker
//! still held, and deleting old ended tasks.
//!
//! Every try happens in the worker's backoff loop (`retries = max_attempts - 1`): a task stored
//! `Failed` with tries left would be fetched again at once, with no backoff.

mod depth;
mod sql;
mod worker;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use async_trait::async_trait;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::domain::ports::{JobError, JobQueue, QueuedTask};
use crate::domain::sync::SyncTask;
pub use worker::{WorkerHandle, WorkerSettings, start_worker};

/// The queue's name (apalis `job_type`).
pub const QUEUE: &str = "book-sync";

/// How long a push, a state read or a retry may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the queue shared by producers and workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Tries of a task before it is dead (`JOB_MAX_ATTEMPTS`, at least 1).
    pub max_attempts: u32,
    /// How often a worker says it is alive (`JOB_HEARTBEAT_SECS`, whole seconds).
    pub heartbeat: Duration,
    /// Heartbeats a worker may miss before its tasks go to others (`JOB_MISSED_HEARTBEATS`).
    pub missed_heartbeats: u32,
    /// How often an idle worker looks for tasks when nothing wakes it.
    pub poll_interval: Duration,
}

/// The database the queue lives in.
#[derive(Clone)]
pub(crate) enum Backend {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The book sync's job queue.
#[derive(Clone)]
pub struct ApalisQueue {
    backend: Backend,
    settings: Arc<QueueSettings>,
}

impl ApalisQueue {
    /// Opens the queue in the database at `url` (`postgres://…` or `sqlite:…`) and creates its
    /// tables (apalis's own migrations: schema `apalis` on Postgres, tables `Jobs`/`Workers`
    /// on SQLite). SQLite gets a small pool of its own, since apalis sets pragmas on it.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated.
    pub async fn open(url: &str, settings: QueueSettings) -> anyhow::Result<Self> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(CALL_TIMEOUT)
                .after_release(|conn, _| Box::pin(async move { Ok(!left_in_transaction(&*conn)) }))
                .connect_with(options)
                .await
                .context("job queue: SQLite unreachable")?;
            SqliteStorage::setup(&pool)
                .await
                .context("job queue: SQLite migrations failed")?;
            Backend::Sqlite(pool)
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(CALL_TIMEOUT)
                .after_release(|conn, _| Box::pin(async move { Ok(!left_in_transaction(&*conn)) }))
                .connect(url)
                .await
                .context("job queue: Postgres unreachable")?;
            PostgresStorage::setup(&pool)
                .await
                .context("job queue: Postgres migrations failed")?;
            Backend::Postgres(pool)
        };
        Ok(Self {
            backend,
            settings: Arc::new(settings),
        })
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    fn build(&self, queued: &QueuedTask) -> apalis::prelude::Task<SyncTask> {
        TaskBuilder::new(queued.task.clone())
            .task_id(TaskId::from_string(queued.id.clone()))
            .max_attempts(self.settings.max_attempts as usize)
            .build()
    }

    async fn push(&self, tasks: &[QueuedTask]) -> Result<(), String> {
        let built: Vec<_> = tasks.iter().map(|t| self.build(t)).collect();
        let mut stream = futures::stream::iter(built);
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut storage = SqliteStorage::<SyncTask>::new(pool)
                    .with_config(worker::sqlite_config(&self.settings, 1));
                storage
                    .push_all(&mut stream)
                    .await
                    .map_err(|e| e.to_string())
            }
            Backend::Postgres(pool) => {
                let mut storage = PostgresStorage::<SyncTask>::new(pool)
                    .with_config(worker::postgres_config(&self.settings, 1));
                storage
                    .push_all(&mut stream)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Whether a connection coming back to the queue's pool is still inside a transaction; such a
/// connection is closed, never reused. apalis's heartbeat, fetch and ack run in transactions;
/// when one fails at COMMIT (SQLite on a full disk) sqlx still counts the connection as inside
/// it, and on SQLite that connection would hold the write lock of the whole database (every
/// other writer: "database is locked") until the process ends.
fn left_in_transaction<C: sqlx::Connection>(conn: &C) -> bool {
    let open = conn.is_in_transaction();
    if open {
        tracing::warn!("job queue: closing a connection left inside a transaction");
    }
    open
}

/// `call` within [`CALL_TIMEOUT`]; a failure or a timeout is logged and `Unavailable`.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, JobError> {
    let failed = |detail: &dyn std::fmt::Display| {
        tracing::warn!(error = %detail, "job queue: {what} failed");
        JobError::Unavailable(what.to_string())
    };
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(failed(&e)),
        Err(_) => Err(failed(&"timed out")),
    }
}

#[async_trait]
impl JobQueue for ApalisQueue {
    async fn enqueue(&self, tasks: &[QueuedTask]) -> Result<(), JobError> {
        if tasks.is_empty() {
            return Ok(());
        }
        for chunk in tasks.chunks(500) {
            bounded("push", self.push(chunk)).await?;
        }
        Ok(())
    }

    async fn retry(&self, task_ids: &[String]) -> Result<u64, JobError> {
        bounded("retry", sql::retry_dead(&self.backend, task_ids)).await
    }

    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, JobError> {
        bounded("prune", sql::prune(&self.backend, before)).await
    }
}
