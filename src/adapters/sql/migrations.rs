//! Schema migrations (sea-orm-migration), safe to run from several replicas at once.

mod m20261122_000001_threads;
mod m20261122_000002_api_keys;
mod m20261203_000001_turn_leases;
mod m20261203_000002_db_probe;
mod m20261204_000001_identity;
mod m20261205_000001_book;
mod m20261210_000001_learning;

use sea_orm::sqlx::Executor as _;
use sea_orm_migration::prelude::*;

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

async fn apply(conn: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
    let pending = Migrator::get_pending_migrations(conn).await?.len();
    if pending > 0 {
        Migrator::up(conn, None).await?;
        tracing::info!(applied = pending, "database migrations applied");
    }
    Ok(pending)
}
