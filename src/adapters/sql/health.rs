//! Readiness of the database: "cannot reach it" and "cannot commit" take the replica out of
//! rotation, "busy" does not.
//!
//! A check never queues behind store calls: it borrows an idle pooled connection when there is
//! one, else opens a connection of its own (a saturated pool is busy, not down, and the metrics
//! show it). At most every [`PROBE_INTERVAL`] (every [`SUSPECT_PROBE_GAP`] after a write
//! failed as unavailable) the check commits a one-row write to `db_probe`, so a database that
//! answers pings but cannot commit (disk full, read-only after a failover) reads as down until
//! a write succeeds again, by a store call or by the probe.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sea_orm::sqlx::{self, AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::faults::{Fault, sqlx_fault};
use super::{Database, Engine};
use crate::domain::ports::Pingable;

/// How often a healthy database is checked with a committed write.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);
/// How soon after the last probe a write that failed as unavailable is checked again.
pub const SUSPECT_PROBE_GAP: Duration = Duration::from_secs(1);
/// Longest wait for a connection of the check's own (inside readiness' own 2 s bound).
const CONNECT_BOUND: Duration = Duration::from_millis(800);
/// Longest wait for the probe's statement or ping.
const STATEMENT_BOUND: Duration = Duration::from_millis(800);

/// What the store's writes and the probes found out about committing.
#[derive(Debug, Default)]
pub(super) struct WriteHealth {
    /// A write failed as unavailable since the last one that succeeded.
    suspect: AtomicBool,
    /// When commit was last known to work or fail, and the reason when it failed.
    last: Mutex<Option<(Instant, Result<(), String>)>>,
    /// When the last probe ran (what rate-limits probes of a suspect database).
    probed: Mutex<Option<Instant>>,
}

impl WriteHealth {
    pub(super) fn write_succeeded(&self) {
        self.suspect.store(false, Ordering::Relaxed);
        self.remember(Ok(()));
    }

    pub(super) fn write_failed(&self) {
        self.suspect.store(true, Ordering::Relaxed);
    }

    fn remember(&self, outcome: Result<(), String>) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), outcome));
        }
    }

    fn last_outcome(&self) -> Option<Result<(), String>> {
        self.last.lock().ok()?.as_ref().map(|(_, o)| o.clone())
    }

    /// The last known outcome, unless a probe is due (and then marks it run).
    fn known(&self) -> Option<Result<(), String>> {
        let recent = |at: Option<Instant>, gap: Duration| at.is_some_and(|at| at.elapsed() < gap);
        let due = if self.suspect.load(Ordering::Relaxed) {
            // A write failed: check soon, whatever succeeded before it.
            !recent(*self.probed.lock().ok()?, SUSPECT_PROBE_GAP)
        } else {
            let last = self.last.lock().ok()?.as_ref().map(|(at, _)| *at);
            !recent(last, PROBE_INTERVAL)
        };
        if due {
            if let Ok(mut probed) = self.probed.lock() {
                *probed = Some(Instant::now());
            }
            return None;
        }
        Some(self.last_outcome().unwrap_or(Ok(())))
    }
}

/// Why a check failed.
enum Failure {
    /// No connection could be had or used.
    Unreachable(String),
    /// A statement failed; the fault when it is one.
    Statement(Option<Fault>),
}

#[async_trait]
impl Pingable for Database {
    async fn ping(&self) -> Result<(), String> {
        let probe = match self.health.known() {
            Some(Err(reason)) => return Err(reason),
            Some(Ok(())) => None,
            None => Some(probe_sql()),
        };
        let outcome = match self.engine {
            Engine::Postgres => {
                check(self.conn.get_postgres_connection_pool(), probe.as_deref()).await
            }
            Engine::Sqlite => check(self.conn.get_sqlite_connection_pool(), probe.as_deref()).await,
        };
        match outcome {
            Ok(()) => {
                if probe.is_some() {
                    self.health.write_succeeded();
                }
                Ok(())
            }
            Err(Failure::Unreachable(reason)) => Err(reason),
            Err(Failure::Statement(Some(Fault::Down))) => {
                let reason = if probe.is_some() {
                    "cannot commit"
                } else {
                    "cannot reach the database"
                };
                if probe.is_some() {
                    self.health.remember(Err(reason.to_owned()));
                }
                Err(reason.to_owned())
            }
            // Busy, or a statement the database refused for another reason (say the probe's
            // table is not migrated yet): it answered, so it is reachable; a commit failure
            // seen before still stands.
            Err(Failure::Statement(_)) => self.health.last_outcome().unwrap_or(Ok(())),
        }
    }
}

/// The probe's write: one row, rewritten with the time.
fn probe_sql() -> String {
    let micros = super::now_micros();
    format!(
        "INSERT INTO db_probe (id, probed_at) VALUES (1, {micros}) \
         ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
    )
}

/// Runs `write` (or a ping) on an idle pooled connection, else on a connection of its own.
async fn check<DB>(pool: &sqlx::Pool<DB>, write: Option<&str>) -> Result<(), Failure>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if let Some(mut conn) = pool.try_acquire() {
        return run::<DB>(&mut conn, write).await;
    }
    // Every connection is in use: busy, not down. Whether the database can be reached is
    // found out on a connection that does not queue behind the store's calls.
    let connected = tokio::time::timeout(CONNECT_BOUND, pool.connect_options().connect()).await;
    let mut conn = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness could not open a database connection");
            return Err(Failure::Unreachable("cannot reach the database".into()));
        }
        Err(_) => {
            return Err(Failure::Unreachable(format!(
                "no database connection within {} ms",
                CONNECT_BOUND.as_millis()
            )));
        }
    };
    let outcome = run::<DB>(&mut conn, write).await;
    // Closed politely but without holding up the answer.
    tokio::spawn(async move {
        let _ = tokio::time::timeout(STATEMENT_BOUND, conn.close()).await;
    });
    outcome
}

async fn run<DB>(conn: &mut DB::Connection, write: Option<&str>) -> Result<(), Failure>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let lock_wait = write.is_some() && DB::NAME == "SQLite";
    let done = match write {
        Some(sql) => tokio::time::timeout(
            STATEMENT_BOUND,
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut *conn),
        )
        .await
        .map(|r| r.map(drop)),
        None => tokio::time::timeout(STATEMENT_BOUND, conn.ping()).await,
    };
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let fault = sqlx_fault(&e);
            tracing::warn!(error = %e, ?fault, "database readiness check failed");
            Err(Failure::Statement(fault))
        }
        // SQLite's only wait is for the write lock: busy. Anything else that does not answer
        // in time (a ping, a one-row write on Postgres) is a database out of reach.
        Err(_) if lock_wait => Err(Failure::Statement(Some(Fault::Busy))),
        Err(_) => Err(Failure::Unreachable(format!(
            "no answer within {} ms",
            STATEMENT_BOUND.as_millis()
        ))),
    }
}
