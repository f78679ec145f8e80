//! Webhook deliveries already acted on, so a replayed delivery purges nothing again.
//!
//! A delivery is known by the SHA-256 of its signed body, not by its `X-GitHub-Delivery` id:
//! GitHub signs only the body, so anyone who captured a delivery can resend it under a fresh
//! id, but not with another body. Every push body is distinct (it names the commits and the
//! push time), so no two real deliveries share a key. Each key is remembered for
//! [`REMEMBERED_FOR`] in process and, with Redis, across replicas.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::domain::ports::DeliveryLog;

/// How long a delivery is remembered: GitHub does not redeliver on its own, and a delivery
/// replayed later than this purges lessons that are refetched once, which is harmless.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(86_400);

/// Most deliveries remembered in process (32 bytes each).
const CAPACITY: u64 = 100_000;

/// The key of a delivery.
pub type DeliveryKey = [u8; 32];

/// The deliveries seen, in process and (when configured) in the shared log.
pub struct Deliveries {
    seen: Cache<DeliveryKey, ()>,
    shared: Option<Arc<dyn DeliveryLog>>,
}

impl Default for Deliveries {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Deliveries {
    /// Deliveries remembered in process, and in `shared` when given.
    pub fn new(shared: Option<Arc<dyn DeliveryLog>>) -> Self {
        Self {
            seen: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(REMEMBERED_FOR)
                .build(),
            shared,
        }
    }

    /// The key of the delivery whose signed body is `body`.
    pub fn key(body: &[u8]) -> DeliveryKey {
        Sha256::digest(body).into()
    }

    /// Records `key`; `true` when no replica has recorded it within [`REMEMBERED_FOR`]. When
    /// the shared log cannot answer, the delivery counts as new: purging twice costs one
    /// refetch, missing a purge serves an old lesson.
    pub async fn first_sighting(&self, key: DeliveryKey) -> bool {
        if !self.seen.entry(key).or_insert(()).is_fresh() {
            return false;
        }
        let Some(shared) = &self.shared else {
            return true;
        };
        match shared.record(&hex::encode(key), REMEMBERED_FOR).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "shared webhook delivery log unavailable; acting on the delivery");
                true
            }
        }
    }

    /// Forgets `key`, so the delivery is acted on when it comes again (its purge failed).
    pub async fn forget(&self, key: DeliveryKey) {
        self.seen.invalidate(&key);
        if let Some(shared) = &self.shared
            && let Err(e) = shared.forget(&hex::encode(key)).await
        {
            tracing::warn!(error = %e, "could not forget a webhook delivery in the shared log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_is_new_once_until_it_is_forgotten() {
        let deliveries = Deliveries::default();
        let key = Deliveries::key(b"{\"ref\":\"refs/heads/main\"}");
        assert!(deliveries.first_sighting(key).await);
        assert!(!deliveries.first_sighting(key).await);
        assert!(
            deliveries
                .first_sighting(Deliveries::key(b"{\"ref\":\"refs/heads/other\"}"))
                .await
        );
        deliveries.forget(key).await;
        assert!(deliveries.first_sighting(key).await);
    }
}
