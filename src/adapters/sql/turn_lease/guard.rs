//! A held lease: a heartbeat renews it every third of its length while the turn runs, and its
//! release is retried with backoff while the database is unreachable, until the lease would
//! have expired anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use super::{Shared, now_micros, statements};
use crate::domain::ports::TurnGuard;

/// First pause between two release attempts; it doubles up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between two release attempts.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The [`TurnGuard`] of a lease.
pub(super) struct LeaseGuard {
    held: Option<Held>,
}

struct Held {
    shared: Arc<Shared>,
    thread_id: String,
    token: String,
    /// End of the lease as last written (epoch microseconds).
    until: Arc<AtomicI64>,
    /// The renewing task; none for a lease that may not even have been taken.
    heartbeat: Option<AbortHandle>,
}

impl LeaseGuard {
    /// Starts the heartbeat of a lease just taken; it renews until `hold_for` has passed.
    pub(super) fn start(
        shared: Arc<Shared>,
        thread_id: String,
        token: String,
        until: i64,
        hold_for: Duration,
    ) -> Self {
        let until = Arc::new(AtomicI64::new(until));
        let heartbeat = tokio::spawn(heartbeat(
            shared.clone(),
            thread_id.clone(),
            token.clone(),
            until.clone(),
            Instant::now() + hold_for,
        ))
        .abort_handle();
        let heartbeat = Some(heartbeat);
        Self {
            held: Some(Held {
                shared,
                thread_id,
                token,
                until,
                heartbeat,
            }),
        }
    }
}

/// Frees a lease whose taking failed with an unknown outcome: the database may have applied the
/// statement before the connection broke, leaving the thread locked by a token nobody holds
/// until the lease expires (every turn of the thread refused 409 meanwhile). It is released
/// like a dropped guard's lease, in the background with retries, and is registered as a release
/// under way at once, so the thread's next turn in this process takes it over instead.
pub(super) fn release_uncertain(shared: Arc<Shared>, thread_id: String, token: String, until: i64) {
    Held {
        shared,
        thread_id,
        token,
        until: Arc::new(AtomicI64::new(until)),
        heartbeat: None,
    }
    .release();
}

impl Held {
    /// Stops renewing and releases in a task of its own, which outlives both the guard and
    /// anyone awaiting it; the release is registered before this returns.
    fn release(self) -> Option<JoinHandle<()>> {
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.abort();
        }
        self.shared.releases.begin(&self.token, &self.thread_id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (the process is tearing down): the lease expires by itself.
            self.shared.releases.end(&self.token);
            return None;
        };
        Some(runtime.spawn(async move {
            release_with_retry(&self).await;
            self.shared.releases.end(&self.token);
        }))
    }
}

impl TurnGuard for LeaseGuard {
    fn release(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        let task = self.held.take().and_then(Held::release);
        Box::pin(async move {
            if let Some(task) = task {
                let _ = task.await;
            }
        })
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            held.release();
        }
    }
}

async fn heartbeat(
    shared: Arc<Shared>,
    thread_id: String,
    token: String,
    until: Arc<AtomicI64>,
    hold_until: Instant,
) {
    let every = shared.lease / 3;
    let mut pause = every;
    loop {
        tokio::time::sleep(pause).await;
        if Instant::now() >= hold_until {
            tracing::warn!(
                thread_id,
                "a turn kept its lock past its longest allowed hold; its lease is no longer renewed"
            );
            return;
        }
        let next = now_micros() + shared.lease_micros();
        let renewed = tokio::time::timeout(
            every,
            statements::renew(&shared.db, &thread_id, &token, next),
        )
        .await;
        match renewed {
            Ok(Ok(true)) => {
                until.store(next, Ordering::Relaxed);
                pause = every;
            }
            Ok(Ok(false)) => {
                shared.metrics.event("lost");
                tracing::warn!(
                    thread_id,
                    "turn lease lost: it lapsed and was taken over or freed; another turn may run"
                );
                return;
            }
            Ok(Err(e)) => {
                shared.metrics.event("renew_failed");
                tracing::warn!(thread_id, error = %e, "renewing a turn lease failed; retrying");
                pause = every / 3;
            }
            Err(_) => {
                shared.metrics.event("renew_failed");
                tracing::warn!(thread_id, "renewing a turn lease timed out; retrying");
                pause = every / 3;
            }
        }
    }
}

/// Frees the lease, retrying while the database fails; gives up once the lease has expired
/// (the next turn then takes it over, so a release is pointless).
async fn release_with_retry(held: &Held) {
    let shared = &held.shared;
    let attempt_limit = shared.lease / 3;
    let mut pause = FIRST_RETRY_PAUSE;
    let mut failures = 0u32;
    loop {
        let attempt = tokio::time::timeout(
            attempt_limit,
            statements::release(&shared.db, &held.thread_id, &held.token),
        )
        .await;
        let error = match attempt {
            // Not ours any more (taken over, or passed to the next turn of this process): done.
            Ok(Ok(_)) => {
                if failures > 0 {
                    tracing::info!(
                        thread_id = held.thread_id,
                        failures,
                        "turn lease released after retries"
                    );
                }
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        shared.metrics.event("release_failed");
        failures += 1;
        let left = held.until.load(Ordering::Relaxed) - now_micros();
        if left <= 0 {
            shared.metrics.event("release_abandoned");
            tracing::warn!(
                thread_id = held.thread_id,
                error,
                "releasing a turn lease failed until it expired; the next turn takes it over"
            );
            return;
        }
        if failures == 1 {
            tracing::warn!(
                thread_id = held.thread_id,
                error,
                "releasing a turn lease failed; retrying"
            );
        }
        let left = Duration::from_micros(left.unsigned_abs());
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    }
}
