//! Schema migrations (sea-orm-migration), safe to run from several replicas at once.

mod m20261122_000001_threads;
mod m20261122_000002_api_keys;
mod m20261203_000001_turn_leases;
mod m20261203_000002_db_probe;
mod m20261204_000001_identity;
mod m20261205_000001_book;
mod m20261210_000001_learning;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sea_orm::EntityTrait as _;
use sea_orm::sqlx::Executor as _;
use sea_orm_migration::prelude::*;
use sea_orm_migration::seaql_migrations;

use super::{Database, Engine};

/// Every migration, oldest first. Each one is idempotent (`IF NOT EXISTS`).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_threads::Migration),
            Box::new(m20261122_000002_api_keys::Migration),
            Box::new(m20261203_000001_turn_leases::Migration),
            Box::new(m20261203_000002_db_probe::Migration),
            Box::new(m20261204_000001_identity::Migration),
            Box::new(m20261205_000001_book::Migration),
            Box::new(m20261210_000001_learning::Migration),
        ]
    }
}

/// Arbitrary but fixed key of the Postgres advisory lock that serialises migrators.
const MIGRATION_LOCK_KEY: i64 = 0x5354_5544_594d_4f44; // "STUDYMOD"

/// Applies pending migrations; returns how many were applied.
///
/// On Postgres a session-level advisory lock makes concurrent replicas wait for each other, and
/// the second one then finds nothing left to do.
///
/// # Errors
/// When the database refuses a statement or the lock cannot be taken.
pub async fn run(db: &Database) -> Result<usize, DbErr> {
    let conn = db.connection();
    match db.engine() {
        Engine::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            let mut lock_conn = pool
                .acquire()
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            lock_conn
                .execute(
                    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY),
                )
                .await
                .map_err(|e| DbErr::Custom(format!("take migration lock: {e}")))?;
            let result = apply(conn).await;
            let unlock =
                sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY);
            if let Err(e) = lock_conn.execute(unlock).await {
                // The lock dies with the session anyway; close it rather than return it locked.
                tracing::warn!(error = %e, "releasing the migration lock failed");
                let _ = lock_conn.detach();
            }
            result
        }
        Engine::Sqlite => apply(conn).await,
    }
}

/// How often a process started with `AUTO_MIGRATE=false` looks at the schema again.
const WAIT_POLL: Duration = Duration::from_secs(2);
/// How long it waits for `study-mode-api migrate` (the migration Job's own deadline).
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// Brings the schema to this release before the process serves: applies pending migrations
/// (`auto_migrate`), or else waits until another process (the deployment's `migrate` Job) has
/// applied them, so a new release never serves on an old schema. A schema ahead of this
/// release (a newer release migrated it during a rolling update) is accepted.
///
/// # Errors
/// When the database fails, or migrations are still pending after [`WAIT_LIMIT`].
pub async fn prepare(db: &Database, auto_migrate: bool) -> Result<(), DbErr> {
    if auto_migrate {
        return run(db).await.map(drop);
    }
    wait_until_applied(db, WAIT_POLL, WAIT_LIMIT).await
}

/// Waits until every migration of this release is recorded as applied; see [`prepare`].
///
/// # Errors
/// When the database fails, or migrations are still pending after `limit`.
pub async fn wait_until_applied(
    db: &Database,
    poll: Duration,
    limit: Duration,
) -> Result<(), DbErr> {
    let deadline = Instant::now() + limit;
    loop {
        let pending = pending(db.connection()).await?;
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DbErr::Custom(format!(
                "{} database migration(s) still pending after {} s (AUTO_MIGRATE=false): run \
                 `study-mode-api migrate`",
                pending.len(),
                limit.as_secs()
            )));
        }
        tracing::warn!(
            pending = pending.len(),
            first = %pending[0],
            "the database schema is behind this release: waiting for `study-mode-api migrate` \
             (AUTO_MIGRATE=false)"
        );
        tokio::time::sleep(poll).await;
    }
}

/// The names of this release's migrations not recorded as applied, read without writing (no
/// migration table is created) and without failing on migrations only a newer release knows.
async fn pending(conn: &sea_orm::DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let applied: HashSet<String> = if SchemaManager::new(conn)
        .has_table("seaql_migrations")
        .await?
    {
        seaql_migrations::Entity::find()
            .all(conn)
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect()
    } else {
        HashSet::new()
    };
    Ok(Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .filter(|name| !applied.contains(name))
        .collect())
}

async fn apply(conn: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
    let pending = Migrator::get_pending_migrations(conn).await?.len();
    if pending > 0 {
        Migrator::up(conn, None).await?;
        tracing::info!(applied = pending, "database migrations applied");
    }
    Ok(pending)
}
