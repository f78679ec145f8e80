//! Wiring of the turn lock: database leases, and the leases an earlier run left behind.

use crate::adapters::sql::Database;
use crate::adapters::sql::turn_lease::{LeaseSettings, SqlTurnLease};
use crate::config::Config;
use crate::http::metrics::Metrics;

/// One turn per thread across every replica: a lease on the thread's row in the database
/// every replica shares (Redis plays no part, so its outages neither stall nor split turns).
/// Leases an earlier run of this replica left behind (SIGKILL, crash) are freed first, so a
/// restarted service serves every thread at once.
pub(super) async fn turn_lock(
    config: &Config,
    db: &Database,
    port: u16,
    metrics: &Metrics,
) -> SqlTurnLease {
    let settings = LeaseSettings {
        lease: config.turn_lock.lease,
        replica_id: config.turn_lock.replica.resolve(port),
    };
    let replica_id = settings.replica_id.clone();
    let leases = SqlTurnLease::new(db.clone(), settings, Some(metrics.registry()));
    match leases.reclaim_replica().await {
        Ok(0) => {}
        Ok(freed) => {
            tracing::info!(
                freed,
                replica_id,
                "freed the turn leases of this replica's previous run"
            );
        }
        Err(e) => tracing::warn!(
            error = %e,
            replica_id,
            "could not free the turn leases of this replica's previous run; they expire within TURN_LEASE_SECS"
        ),
    }
    leases
}
