//! Our SQL on apalis's tables (pinned to apalis 1.0.0's schema, covered by the queue tests):
//! putting dead tasks back, handing back what a stopping worker held, and deleting old ended
//! tasks.

use super::{Backend, QUEUE};

/// A dead task: `Killed` (aborted, or it panicked) or `Failed` with no tries left.
macro_rules! dead {
    () => {
        "(status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))"
    };
}

/// Most ids in one statement.
const MAX_IDS: usize = 500;

/// Puts the dead tasks among `ids` back on the queue with their tries reset; returns how many.
pub(super) async fn retry_dead(backend: &Backend, ids: &[String]) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for chunk in ids.chunks(MAX_IDS) {
        total += match backend {
            Backend::Postgres(pool) => sqlx::query(concat!(
                "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = NOW(), \
                 lock_by = NULL, lock_at = NULL, done_at = NULL \
                 WHERE job_type = $1 AND id = ANY($2) AND ",
                dead!()
            ))
            .bind(QUEUE)
            .bind(chunk)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite(pool) => {
                let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".to_string());
                sqlx::query(concat!(
                    "UPDATE Jobs SET status = 'Pending', attempts = 0, \
                     run_at = strftime('%s','now'), lock_by = NULL, lock_at = NULL, done_at = NULL \
                     WHERE job_type = ?1 AND id IN (SELECT value FROM json_each(?2)) AND ",
                    dead!()
                ))
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
    Ok(match backend {
        Backend::Postgres(pool) => sqlx::query(concat!(
            "DELETE FROM apalis.jobs WHERE job_type = $1 AND done_at < $2 \
             AND (status = 'Done' OR ",
            dead!(),
            ")"
        ))
        .bind(QUEUE)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected(),
        Backend::Sqlite(pool) => sqlx::query(concat!(
            "DELETE FROM Jobs WHERE job_type = ?1 AND done_at < ?2 AND (status = 'Done' OR ",
            dead!(),
            ")"
        ))
        .bind(QUEUE)
        .bind(before.timestamp())
        .execute(pool)
        .await?
        .rows_affected(),
    })
}

/// The queue's tasks by state (`pending`, `running`, `retrying`, `dead`, `done`): one grouped
/// count over the queue's rows.
pub(super) async fn count_by_state(backend: &Backend) -> Result<Vec<(String, i64)>, sqlx::Error> {
    macro_rules! by_state {
        ($table:literal, $param:literal) => {
            concat!(
                "SELECT CASE WHEN status IN ('Pending', 'Queued') THEN 'pending' \
                 WHEN status = 'Running' THEN 'running' WHEN status = 'Done' THEN 'done' \
                 WHEN ",
                dead!(),
                " THEN 'dead' ELSE 'retrying' END AS state, COUNT(*) AS n FROM ",
                $table,
                " WHERE job_type = ",
                $param,
                " GROUP BY 1"
            )
        };
    }
    match backend {
        Backend::Postgres(pool) => {
            sqlx::query_as::<_, (String, i64)>(by_state!("apalis.jobs", "$1"))
                .bind(QUEUE)
                .fetch_all(pool)
                .await
        }
        Backend::Sqlite(pool) => {
            sqlx::query_as::<_, (String, i64)>(by_state!("Jobs", "?1"))
                .bind(QUEUE)
                .fetch_all(pool)
                .await
        }
    }
}
