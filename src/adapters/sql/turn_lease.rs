//! Outbound adapter: [`TurnLock`] as a lease on the thread's own row, so one turn runs per
//! thread across every replica sharing the database.
//!
//! Why the database and not Redis: it is the one store every replica shares and every turn
//! needs anyway (a turn cannot run without it), so the guarantee holds whether Redis is up or
//! not, there is no second lock backend to fall back to (two replicas each falling back to an
//! in-process lock both ran a turn on one thread), and no turn waits out a Redis timeout.
//!
//! How: `threads.turn_owner` holds an owner token, `threads.turn_lease_until` the end of the
//! lease (epoch microseconds). Taking it is one compare-and-set `UPDATE … WHERE turn_owner IS
//! NULL` (1 row: ours; 0: held); a lease whose end has passed is taken over by a second
//! compare-and-set. The guard renews the lease every third of its length while the turn runs,
//! so a lease outlives a dead process by at most `TURN_LEASE_SECS`, never the turn's timeout.
//! Dropping the guard (or [`TurnGuard::release`]) frees it, retrying while the database is
//! unreachable; [`SqlTurnLease::drain`] lets shutdown wait for those releases.
//!
//! Owner tokens are `{replica_id}:{boot_id}:{nonce}` (boot id and nonce 32 hex digits each): at
//! start [`SqlTurnLease::reclaim_replica`] frees the leases of this replica's earlier runs, so a
//! service restarted after SIGKILL serves every thread at once. Expiry compares the clocks of
//! the replicas, which must agree to well within a lease (NTP does).

mod guard;
mod releases;
mod statements;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus::{IntCounterVec, Opts, Registry};

use self::guard::{LeaseGuard, release_uncertain};
use self::releases::Releases;
use super::{Database, classify, now_micros};
use crate::domain::ports::{LockError, StoreError, TurnGuard, TurnLock};

/// Hex digits of a boot id and of a token's nonce (a simple UUID).
const HEX_ID_LEN: usize = 32;
/// Characters after `{replica_id}:` in an owner token: boot id, `:`, nonce.
const TOKEN_REST: usize = HEX_ID_LEN + 1 + HEX_ID_LEN;

/// What the lease needs to know about this process.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// How long a lease holds without renewal (`TURN_LEASE_SECS`): the longest a thread stays
    /// locked after its replica died.
    pub lease: Duration,
    /// This replica's stable name (`REPLICA_ID`), the first part of its owner tokens; one per
    /// running replica.
    pub replica_id: String,
}

/// [`TurnLock`] on the `threads` table, shared by every replica using the same database.
#[derive(Clone)]
pub struct SqlTurnLease {
    shared: Arc<Shared>,
}

/// State shared by the lock, its guards and their background tasks.
struct Shared {
    db: Database,
    lease: Duration,
    replica_id: String,
    /// `{replica_id}:{boot_id}:`, the start of every token this process writes.
    boot_prefix: String,
    releases: Releases,
    metrics: LeaseMetrics,
}

impl Shared {
    fn lease_micros(&self) -> i64 {
        i64::try_from(self.lease.as_micros()).unwrap_or(i64::MAX)
    }
}

impl SqlTurnLease {
    /// A lease table over `db`; its counters go to `registry` when given.
    pub fn new(db: Database, settings: LeaseSettings, registry: Option<&Registry>) -> Self {
        let boot = uuid::Uuid::new_v4().simple();
        Self {
            shared: Arc::new(Shared {
                db,
                lease: settings.lease,
                boot_prefix: format!("{}:{boot}:", settings.replica_id),
                replica_id: settings.replica_id,
                releases: Releases::new(),
                metrics: LeaseMetrics::new(registry),
            }),
        }
    }

    /// Frees every lease held by an earlier run of this replica (same `REPLICA_ID`, another
    /// boot): that process is gone, or its leases would not be ours to keep. Call at start.
    ///
    /// # Errors
    /// When the database refuses; the leases then expire by themselves within a lease.
    pub async fn reclaim_replica(&self) -> Result<u64, StoreError> {
        let s = &self.shared;
        statements::release_matching(
            &s.db,
            &format!("{}:", s.replica_id),
            TOKEN_REST,
            Some(&s.boot_prefix),
        )
        .await
        .map_err(|e| classify(e, "reclaim turn leases"))
    }

    /// Waits up to `timeout` for the releases under way (guards dropped while the database was
    /// unreachable keep retrying); true when none is left. Call at shutdown, before the pool
    /// closes, so no release is lost.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.shared.releases.drained(timeout).await
    }

    /// Frees every lease this process holds, whether its guard is still alive or its release
    /// gave up; returns how many. Call at exit, once no turn of this process runs any more.
    ///
    /// # Errors
    /// When the database refuses; the leases then expire by themselves within a lease.
    pub async fn release_all(&self) -> Result<u64, StoreError> {
        let s = &self.shared;
        statements::release_matching(&s.db, &s.boot_prefix, HEX_ID_LEN, None)
            .await
            .map_err(|e| classify(e, "release turn leases"))
    }

    /// [`drain`](Self::drain) for up to `timeout`, then [`release_all`](Self::release_all)
    /// for up to `timeout` more: the shutdown sequence in one call. Failures are logged.
    pub async fn shutdown(&self, timeout: Duration) {
        if !self.drain(timeout).await {
            tracing::warn!(
                left = self.shared.releases.len(),
                "turn lock releases still under way at shutdown"
            );
        }
        // Bounded too: with the database gone, waiting for a connection must not hold the exit.
        match tokio::time::timeout(timeout, self.release_all()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(freed)) => tracing::info!(freed, "turn leases freed at shutdown"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "freeing turn leases at shutdown failed; they expire by themselves");
            }
            Err(_) => tracing::warn!(
                "freeing turn leases at shutdown timed out; they expire by themselves"
            ),
        }
    }
}

#[async_trait]
impl TurnLock for SqlTurnLease {
    async fn try_acquire(
        &self,
        thread_id: &str,
        ttl: Duration,
    ) -> Result<Option<Box<dyn TurnGuard>>, LockError> {
        let s = &self.shared;
        let token = format!("{}{}", s.boot_prefix, uuid::Uuid::new_v4().simple());
        let now = now_micros();
        let until = now + s.lease_micros();
        let handover = s.releases.of_thread(thread_id);
        // A statement that failed once sent may still have taken the lease (the answer was
        // lost, not the write): release the token as if a guard had held it. Without a
        // connection nothing was sent.
        let uncertain = |e: sea_orm::DbErr| {
            if !matches!(e, sea_orm::DbErr::ConnectionAcquire(_)) {
                release_uncertain(s.clone(), thread_id.to_owned(), token.clone(), until);
            }
            lock_err(e)
        };
        let mut taken = statements::take_free(&s.db, thread_id, &token, until, handover)
            .await
            .map_err(uncertain)?;
        if !taken {
            taken = statements::take_expired(&s.db, thread_id, &token, now, until)
                .await
                .map_err(uncertain)?;
            if taken {
                s.metrics.event("takeover");
                tracing::info!(
                    thread_id,
                    "took over a turn lease that was not renewed (its holder died or lost the database)"
                );
            }
        }
        Ok(taken.then(|| {
            Box::new(LeaseGuard::start(
                s.clone(),
                thread_id.to_owned(),
                token,
                until,
                ttl,
            )) as Box<dyn TurnGuard>
        }))
    }
}

fn lock_err(err: sea_orm::DbErr) -> LockError {
    match classify(err, "take turn lease") {
        StoreError::Unavailable => LockError::Unavailable("database unreachable".into()),
        other => LockError::Unexpected(anyhow::Error::new(other)),
    }
}

/// Lease events for `/metrics`: `takeover` (an expired lease taken over), `lost` (a running
/// turn's lease lapsed and was taken), `renew_failed`, `release_failed` (one failed attempt),
/// `release_abandoned` (a release that never succeeded before its lease expired).
struct LeaseMetrics {
    events: IntCounterVec,
}

impl LeaseMetrics {
    fn new(registry: Option<&Registry>) -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "turn_lease_events_total",
                "Turn lease events: takeover, lost, renew_failed, release_failed, release_abandoned",
            ),
            &["event"],
        )
        .expect("static counter definition is valid");
        if let Some(registry) = registry
            && let Err(e) = registry.register(Box::new(events.clone()))
        {
            tracing::warn!(error = %e, "turn lease metrics not registered");
        }
        Self { events }
    }

    fn event(&self, name: &str) {
        self.events.with_label_values(&[name]).inc();
    }
}
