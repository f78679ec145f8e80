//! Outbound adapter: the relational database (Postgres or SQLite) behind SeaORM.
//!
//! Owns the connection pool, migrations and the translation of driver errors into
//! [`StoreError`](crate::domain::ports::StoreError). The pool is built with sqlx directly so that every knob (warm-up, test before
//! use, statement timeout, WAL) is set explicitly, then handed to SeaORM. Every store call goes
//! through [`Database::read`] or [`Database::write`] (see `call`), which bound it on the client
//! side; readiness (see `health`) tells a database that cannot be reached or cannot commit from
//! one that is only busy.

pub mod api_keys;
pub mod book;
mod call;
pub mod copy;
mod faults;
mod health;
pub mod migrations;
pub mod refresh_tokens;
pub mod sync_runs;
pub mod thread_store;
pub mod turn_lease;
mod txn;
pub mod user_data;
pub mod users;

pub use faults::{Fault, classify, fault_of};

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::Connection;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::config::DatabaseConfig;

/// Connections idle this long are closed (the pool keeps `min_connections`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Connections are recycled after this long, so server-side changes and failovers are picked up.
const MAX_LIFETIME: Duration = Duration::from_secs(1800);
/// SQLite waits this long for a write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle at least this long is pinged before it is handed out.
///
/// sqlx already pings every connection when it goes back to the pool, so a connection idle for
/// less than this was alive a moment ago; pinging it again would add a round trip (and a wake-up
/// of the database backend) to every query under load. Connections that sat idle longer are the
/// ones a database restart or a dropped TCP session leaves dead, and those are still checked.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);
/// Server-side TCP keep-alive of Postgres connections (`tcp_keepalives_*`): the server notices a
/// client that vanished without closing within about idle + interval × count. sqlx has no
/// client-side keep-alive; the client's side is bounded by the per-call timeout instead.
const PG_KEEPALIVES: [(&str, &str); 3] = [
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
];

/// Which engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// SQLite (embedded default).
    Sqlite,
}

/// Pool occupancy for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// Configured upper bound.
    pub max: u32,
    /// Database operations started and not finished (using or waiting for a connection).
    pub operations: i64,
    /// Every connection is in use (a new operation would have to wait).
    pub saturated: bool,
    /// Operations that gave up waiting for a connection, since start.
    pub acquire_timeouts: u64,
}

/// A connected database: SeaORM handle plus the pool facts the service reports.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    engine: Engine,
    max: u32,
    operations: Arc<AtomicI64>,
    /// One permit per connection: store calls queue here, where the wait can be measured and
    /// charged to the request's [`crate::wait_budget`].
    gate: Arc<Semaphore>,
    acquire_timeout: Duration,
    statement_timeout: Duration,
    acquire_timeouts: Arc<AtomicU64>,
    health: Arc<health::WriteHealth>,
}

/// Counts one database operation while alive (see [`Database::operation`]).
#[derive(Debug)]
pub struct OperationGuard(Arc<AtomicI64>);

impl Drop for OperationGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Database {
    /// Opens the pool, warms `min_connections` and verifies the database answers.
    ///
    /// # Errors
    /// When the URL is invalid, the SQLite folder cannot be created or the database refuses.
    pub async fn connect(cfg: &DatabaseConfig) -> anyhow::Result<Self> {
        let url = cfg.url.expose_secret();
        let db = if cfg.is_sqlite() {
            let opts = SqliteConnectOptions::from_str(url)
                .context("parse DATABASE_URL as a SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            if let Some(parent) = Path::new(opts.get_filename()).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("create database folder {}", parent.display()))?;
            }
            let pool = pool_options::<sea_orm::sqlx::Sqlite>(SqlitePoolOptions::new(), cfg)
                .connect_with(opts)
                .await
                .context("open SQLite database")?;
            Self::wrap(DatabaseConnection::from(pool), Engine::Sqlite, cfg)
        } else {
            let statement_ms = cfg.statement_timeout.as_millis().to_string();
            let mut server = vec![("statement_timeout", statement_ms.as_str())];
            server.extend(PG_KEEPALIVES);
            let opts = PgConnectOptions::from_str(url)
                .context("parse DATABASE_URL as a Postgres URL")?
                .application_name("study-mode-api")
                .options(server);
            let pool = pool_options::<sea_orm::sqlx::Postgres>(PgPoolOptions::new(), cfg)
                .connect_with(opts)
                .await
                .context("connect to Postgres")?;
            Self::wrap(DatabaseConnection::from(pool), Engine::Postgres, cfg)
        };
        db.warm_up(cfg.min_connections).await;
        Ok(db)
    }

    fn wrap(conn: DatabaseConnection, engine: Engine, cfg: &DatabaseConfig) -> Self {
        Self {
            conn,
            engine,
            max: cfg.max_connections,
            operations: Arc::new(AtomicI64::new(0)),
            gate: Arc::new(Semaphore::new(
                usize::try_from(cfg.max_connections).unwrap_or(usize::MAX),
            )),
            acquire_timeout: cfg.acquire_timeout,
            statement_timeout: cfg.statement_timeout,
            acquire_timeouts: Arc::new(AtomicU64::new(0)),
            health: Arc::default(),
        }
    }

    /// Marks one database operation in progress until the guard drops. Operations beyond the
    /// connections in use are waiting for one, which is what `/metrics` reports as `waiting`.
    pub fn operation(&self) -> OperationGuard {
        self.operations.fetch_add(1, Ordering::Relaxed);
        OperationGuard(self.operations.clone())
    }

    /// The SeaORM handle, for store adapters.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Current pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match self.engine {
            Engine::Postgres => {
                let p = self.conn.get_postgres_connection_pool();
                (p.size(), p.num_idle())
            }
            Engine::Sqlite => {
                let p = self.conn.get_sqlite_connection_pool();
                (p.size(), p.num_idle())
            }
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        PoolStats {
            size,
            idle,
            max: self.max,
            operations: self.operations.load(Ordering::Relaxed),
            saturated: size >= self.max && idle == 0,
            acquire_timeouts: self.acquire_timeouts.load(Ordering::Relaxed),
        }
    }

    /// Opens `n` connections at once so the first requests do not pay for the handshakes.
    async fn warm_up(&self, n: u32) {
        let acquire = (0..n).map(|_| async {
            match self.engine {
                Engine::Postgres => self
                    .conn
                    .get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map(drop),
                Engine::Sqlite => self
                    .conn
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map(drop),
            }
        });
        let failures = futures::future::join_all(acquire)
            .await
            .into_iter()
            .filter(Result::is_err)
            .count();
        if failures > 0 {
            tracing::warn!(
                failures,
                "some pool connections could not be opened at start"
            );
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        if let Err(e) = self.conn.close_by_ref().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
    }
}

fn pool_options<DB: sea_orm::sqlx::Database>(
    base: sea_orm::sqlx::pool::PoolOptions<DB>,
    cfg: &DatabaseConfig,
) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    base.max_connections(cfg.max_connections)
        .min_connections(cfg.min_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .idle_timeout(IDLE_TIMEOUT)
        .max_lifetime(MAX_LIFETIME)
        // A connection killed while idle (database restart) is detected and replaced, which is
        // what lets the service recover by itself when the database comes back. Only connections
        // idle for a while are pinged: see PING_IF_IDLE_FOR.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if in_transaction::<DB>(conn) {
                    return Ok(false);
                }
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        // A connection still inside a transaction when it comes back is closed, never reused.
        // sqlx lowers a connection's transaction depth only when COMMIT or ROLLBACK succeeds:
        // after a failed COMMIT whose ROLLBACK fails too (SQLite rolled back by itself on disk
        // full), the next `begin` on that connection would open a SAVEPOINT, the next rollback
        // would leave the real transaction open, and every later write on the connection would
        // "succeed" without ever being committed.
        .after_release(|conn, _meta| Box::pin(async move { Ok(!in_transaction::<DB>(conn)) }))
}

/// Now, in the epoch microseconds every timestamp column of the schema holds.
fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Whether sqlx counts `conn` as inside a transaction (logged: it means a write went wrong).
fn in_transaction<DB: sea_orm::sqlx::Database>(conn: &DB::Connection) -> bool {
    let open = conn.is_in_transaction();
    if open {
        tracing::warn!("closing a database connection left inside a transaction");
    }
    open
}
