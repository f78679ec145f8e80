//! Our SQL on apalis's tables (pinned to apalis 1.0.0's schema, covered by the queue tests):
//! a task's state, putting dead tasks back, and handing back what a stopping worker held.
//!
//! A task is dead when it is `Killed` (aborted, or it panicked) or `Failed` with no tries left.

use super::{Backend, QUEUE};
use crate::domain::ports::TaskState;

/// Most ids in one statement.
const MAX_IDS: usize = 500;

/// The state of one task; `None` when the queue does not know it.
pub(super) async fn state(
    backend: &Backend,
    task_id: &str,
) -> Result<Option<TaskState>, sqlx::Error> {
    let row: Option<(String, i64, i64)> =
        match backend {
            Backend::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT status, attempts::BIGINT, max_attempts::BIGINT FROM apalis.jobs \
                 WHERE id = $1 AND job_type = $2",
                )
                .bind(task_id)
                .bind(QUEUE)
                .fetch_optional(pool)
                .await?
            }
            Backend::Sqlite(pool) => sqlx::query_as(
                "SELECT status, attempts, max_attempts FROM Jobs WHERE id = ?1 AND job_type = ?2",
            )
            .bind(task_id)
            .bind(QUEUE)
            .fetch_optional(pool)
            .await?,
        };
    Ok(row.map(|(status, attempts, max)| classify(&status, attempts, max)))
}

/// A stored status as a [`TaskState`].
pub(super) fn classify(status: &str, attempts: i64, max_attempts: i64) -> TaskState {
    match status {
        "Done" => TaskState::Done,
        "Killed" => TaskState::Dead,
        "Failed" if attempts >= max_attempts => TaskState::Dead,
        _ => TaskState::Active,
    }
}

/// Puts the dead tasks among `ids` back on the queue with their tries reset; returns how many.
pub(super) async fn retry_dead(backend: &Backend, ids: &[String]) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for chunk in ids.chunks(MAX_IDS) {
        total += match backend {
            Backend::Postgres(pool) => sqlx::query(
                "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = NOW(), \
                     lock_by = NULL, lock_at = NULL, done_at = NULL \
                     WHERE job_type = $1 AND id = ANY($2) \
                     AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))",
            )
            .bind(QUEUE)
            .bind(chunk)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => {
                let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".to_string());
                sqlx::query(
                    "UPDATE Jobs SET status = 'Pending', attempts = 0, \
                     run_at = strftime('%s','now'), lock_by = NULL, lock_at = NULL, done_at = NULL \
                     WHERE job_type = ?1 AND id IN (SELECT value FROM json_each(?2)) \
                     AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))",
                )
                .bind(QUEUE)
                .bind(list)
                .execute(pool)
                .await?
                .rows_affected()
            }
        };
    }
    Ok(total)
}

/// Hands back at once every task `worker` (or a restart of it, `worker-rN`) still holds (its
/// grace ended mid-task), so no other worker waits for the heartbeat timeout; the interrupted
/// try counts as one. Worker names hold no LIKE wildcard (`worker_name` keeps
/// `[A-Za-z0-9.-]`).
pub(super) async fn hand_back(backend: &Backend, worker: &str) -> Result<u64, sqlx::Error> {
    Ok(match backend {
        Backend::Postgres(pool) => sqlx::query(
            "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, \
                 attempts = attempts + 1 \
                 WHERE job_type = $1 AND (lock_by = $2 OR lock_by LIKE $2 || '-r%') \
                 AND status IN ('Running', 'Queued')",
        )
        .bind(QUEUE)
        .bind(worker)
        .execute(pool)
        .await?
        .rows_affected(),
        Backend::Sqlite(pool) => sqlx::query(
            "UPDATE Jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, \
                 attempts = attempts + 1 \
                 WHERE job_type = ?1 AND (lock_by = ?2 OR lock_by LIKE ?2 || '-r%') \
                 AND status IN ('Running', 'Queued')",
        )
        .bind(QUEUE)
        .bind(worker)
        .execute(pool)
        .await?
        .rows_affected(),
    })
}

/// Deletes tasks that ended (done or dead) before `before` (epoch seconds on SQLite).
pub(super) async fn prune(
    backend: &Backend,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, sqlx::Error> {
    const ENDED: &str = "(status = 'Done' OR status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))";
    Ok(match backend {
        Backend::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM apalis.jobs WHERE job_type = $1 AND done_at < $2 AND {ENDED}"
        )))
        .bind(QUEUE)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected(),
        Backend::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM Jobs WHERE job_type = ?1 AND done_at < ?2 AND {ENDED}"
        )))
        .bind(QUEUE)
        .bind(before.timestamp())
        .execute(pool)
        .await?
        .rows_affected(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_dead_when_killed_or_failed_without_tries_left() {
        assert_eq!(classify("Done", 1, 5), TaskState::Done);
        assert_eq!(classify("Killed", 1, 5), TaskState::Dead);
        assert_eq!(classify("Failed", 5, 5), TaskState::Dead);
        assert_eq!(classify("Failed", 2, 5), TaskState::Active);
        for active in ["Pending", "Queued", "Running"] {
            assert_eq!(classify(active, 0, 5), TaskState::Active);
        }
    }
}
