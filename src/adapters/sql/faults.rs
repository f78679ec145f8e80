//! Sorting driver errors: which failures mean "the database is unavailable" (a 503 with
//! `Retry-After`, never a 500), and of those, which mean it is only busy (saturated pool, lock
//! or statement timeouts, serialization conflicts) rather than unreachable or unable to commit
//! (I/O, disk full, read-only, shutdown).

use sea_orm::sqlx;
use sea_orm::sqlx::postgres::PgDatabaseError;
use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

use crate::domain::ports::StoreError;

/// Why the database is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It answers, but not now: every connection is in use, a lock or statement timed out,
    /// or a transaction lost a serialization conflict. Retrying shortly works.
    Busy,
    /// It cannot be reached or cannot commit: connection refused or reset, disk full, I/O
    /// error, read-only, shutting down.
    Down,
}

/// The [`Fault`] a SeaORM error stands for; `None` for errors of the request itself.
pub fn fault_of(err: &DbErr) -> Option<Fault> {
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => Some(Fault::Busy),
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => Some(Fault::Down),
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_fault(e).or(match err {
            DbErr::Conn(_) => Some(Fault::Down),
            _ => None,
        }),
        DbErr::Conn(_) => Some(Fault::Down),
        _ => None,
    }
}

/// The [`Fault`] an sqlx error stands for.
pub fn sqlx_fault(err: &sqlx::Error) -> Option<Fault> {
    match err {
        sqlx::Error::PoolTimedOut => Some(Fault::Busy),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Fault::Down),
        sqlx::Error::Database(db) => {
            if let Some(e) = db.try_downcast_ref::<PgDatabaseError>() {
                postgres_fault(e.code())
            } else if db.try_downcast_ref::<SqliteError>().is_some() {
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .and_then(sqlite_fault)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The [`Fault`] of a Postgres SQLSTATE.
pub fn postgres_fault(sqlstate: &str) -> Option<Fault> {
    match sqlstate {
        // too_many_connections, configuration_limit_exceeded: the server is full, not broken.
        "53300" | "53400" => Some(Fault::Busy),
        // query_canceled (statement_timeout), serialization_failure, deadlock_detected.
        "57014" | "40001" | "40P01" => Some(Fault::Busy),
        // admin_shutdown, crash_shutdown, cannot_connect_now, read_only_sql_transaction.
        "57P01" | "57P02" | "57P03" | "25006" => Some(Fault::Down),
        // connection_exception (08…), insufficient_resources (53…: disk_full, out_of_memory).
        s if s.starts_with("08") || s.starts_with("53") => Some(Fault::Down),
        _ => None,
    }
}

/// The [`Fault`] of a SQLite (extended) result code.
pub fn sqlite_fault(code: i32) -> Option<Fault> {
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED.
        5 | 6 => Some(Fault::Busy),
        // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
        8 | 10 | 13 | 14 => Some(Fault::Down),
        _ => None,
    }
}

/// Sorts a SeaORM error into the store's business outcomes; an unavailable database is logged
/// here (the [`StoreError`] carries no detail).
pub fn classify(err: DbErr, action: &'static str) -> StoreError {
    if let Some(fault) = fault_of(&err) {
        tracing::warn!(action, ?fault, error = %err, "database unavailable");
        return StoreError::Unavailable;
    }
    match err {
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        other if is_unique_violation(&other) => StoreError::Conflict,
        other => StoreError::Unexpected(anyhow::Error::new(other).context(action)),
    }
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_states_of_lost_connections_disk_and_read_only_are_down() {
        for state in [
            "08000", "08006", "08003", "53100", "53200", "57P01", "57P02", "57P03", "25006",
        ] {
            assert_eq!(postgres_fault(state), Some(Fault::Down), "{state}");
        }
    }

    #[test]
    fn postgres_states_of_a_busy_server_are_busy() {
        for state in ["57014", "40001", "40P01", "53300"] {
            assert_eq!(postgres_fault(state), Some(Fault::Busy), "{state}");
        }
    }

    #[test]
    fn postgres_states_of_the_request_itself_are_not_faults() {
        for state in ["23505", "23503", "42P01", "22001"] {
            assert_eq!(postgres_fault(state), None, "{state}");
        }
    }

    #[test]
    fn sqlite_codes_are_sorted_by_their_primary_code() {
        // SQLITE_FULL, SQLITE_IOERR_WRITE (778), SQLITE_READONLY_DBMOVED (1032), SQLITE_CANTOPEN.
        for code in [13, 10, 778, 8, 1032, 14] {
            assert_eq!(sqlite_fault(code), Some(Fault::Down), "{code}");
        }
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_LOCKED.
        for code in [5, 517, 6] {
            assert_eq!(sqlite_fault(code), Some(Fault::Busy), "{code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_ERROR.
        for code in [2067, 1] {
            assert_eq!(sqlite_fault(code), None, "{code}");
        }
    }

    #[test]
    fn driver_io_errors_and_a_closed_pool_are_unavailable_never_unexpected() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let cases = [
            DbErr::Query(RuntimeErr::SqlxError(io.into())),
            DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::WorkerCrashed.into())),
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::Internal("gone".into())),
        ];
        for err in cases {
            let shown = err.to_string();
            assert!(
                matches!(classify(err, "test"), StoreError::Unavailable),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_missing_row_is_not_found_and_other_errors_unexpected() {
        assert!(matches!(
            classify(DbErr::RecordNotFound("x".into()), "test"),
            StoreError::NotFound
        ));
        assert!(matches!(
            classify(DbErr::Custom("bad".into()), "test"),
            StoreError::Unexpected(_)
        ));
    }
}
