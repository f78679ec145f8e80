//! `study_jobs{state}`: the book-sync queue's tasks by state (pending, running, retrying, dead,
//! done), read from the queue's table every [`SAMPLE_EVERY`] by the API process, so the depth and
//! the dead-letter count are visible wherever the workers run. Done and dead rows are pruned
//! after `JOB_RETENTION_DAYS`, so `done` is a recent total, not a lifetime count.

use std::time::Duration;

use prometheus::{IntGaugeVec, Opts, Registry};

use super::{ApalisQueue, sql};

/// How often the queue is counted.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// The states, in label order.
pub const STATES: [&str; 5] = ["pending", "running", "retrying", "dead", "done"];

impl ApalisQueue {
    /// The queue's tasks by state (every state present, zero when none).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn depth(&self) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
        let rows = sql::count_by_state(self.backend()).await?;
        Ok(STATES
            .iter()
            .map(|state| {
                let n = rows
                    .iter()
                    .filter(|(s, _)| s == state)
                    .map(|(_, n)| *n)
                    .sum();
                (*state, n)
            })
            .collect())
    }

    /// Registers `study_jobs{state}` on `registry` and keeps it current from a background task
    /// for as long as the runtime lives (a failed count keeps the last values and is logged).
    ///
    /// # Panics
    /// Never in practice: the definition is static.
    pub fn sample_depth(&self, registry: &Registry) {
        let gauge = IntGaugeVec::new(
            Opts::new(
                "study_jobs",
                "Book-sync queue tasks by state (pending, running, retrying, dead, done)",
            ),
            &["state"],
        )
        .expect("static gauge definition is valid");
        for state in STATES {
            gauge.with_label_values(&[state]);
        }
        if let Err(e) = registry.register(Box::new(gauge.clone())) {
            tracing::warn!(error = %e, "study_jobs not registered");
            return;
        }
        let queue = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match tokio::time::timeout(super::CALL_TIMEOUT, queue.depth()).await {
                    Ok(Ok(depth)) => {
                        for (state, n) in depth {
                            gauge.with_label_values(&[state]).set(n);
                        }
                    }
                    // The queue was closed at shutdown: nothing left to count.
                    Ok(Err(sqlx::Error::PoolClosed)) => break,
                    Ok(Err(e)) => tracing::warn!(error = %e, "counting the job queue failed"),
                    Err(_) => tracing::warn!("counting the job queue timed out"),
                }
            }
        });
    }
}
