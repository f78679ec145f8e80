//! Write transactions of the SQL stores: begun `IMMEDIATE` on SQLite (so they never have to
//! upgrade a read lock, which SQLite refuses without waiting when another writer got in first),
//! committed when the work succeeded and rolled back otherwise; and stored instants read back.

use sea_orm::{
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::{Database, classify};
use crate::domain::ports::StoreError;

/// Starts a write transaction on `db`.
pub(super) async fn begin(db: &Database) -> Result<DatabaseTransaction, StoreError> {
    begin_with(db, |e| classify(e, "begin transaction")).await
}

/// Starts a write transaction on `db`, a failure mapped by `map`.
pub(super) async fn begin_with(
    db: &Database,
    map: impl FnOnce(DbErr) -> StoreError,
) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.connection()
        .begin_with_options(options)
        .await
        .map_err(map)
}

/// Commits `txn` when `result` is Ok, rolls it back otherwise; returns `result`.
pub(super) async fn finish<T>(
    txn: DatabaseTransaction,
    result: Result<T, StoreError>,
    action: &'static str,
) -> Result<T, StoreError> {
    finish_with(txn, result, action, |e| classify(e, action)).await
}

/// Like [`finish`], a failed commit mapped by `map`.
pub(super) async fn finish_with<T>(
    txn: DatabaseTransaction,
    result: Result<T, StoreError>,
    action: &'static str,
    map: impl FnOnce(DbErr) -> StoreError,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(map)?;
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
