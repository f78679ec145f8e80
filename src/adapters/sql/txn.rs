//! Write transactions of the identity stores: begun `IMMEDIATE` on SQLite (so they never have
//! to upgrade a read lock, which SQLite refuses without waiting when another writer got in
//! first), committed when the work succeeded and rolled back otherwise.

use sea_orm::{DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};

use super::{Database, classify};
use crate::domain::ports::StoreError;

/// Starts a write transaction on `db`.
pub(super) async fn begin(db: &Database) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.connection()
        .begin_with_options(options)
        .await
        .map_err(|e| classify(e, "begin transaction"))
}

/// Commits `txn` when `result` is Ok, rolls it back otherwise; returns `result`.
pub(super) async fn finish<T>(
    txn: DatabaseTransaction,
    result: Result<T, StoreError>,
    action: &'static str,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(|e| classify(e, action))?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(action, error = %rollback, "rolling back a write failed");
            }
            Err(err)
        }
    }
}

/// Microseconds since the Unix epoch of a stored instant, read back.
pub(super) fn instant(
    micros: i64,
    what: &str,
) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        StoreError::Unexpected(anyhow::anyhow!(
            "{what} has an out-of-range instant {micros}"
        ))
    })
}
