//! A turn lock that survives an outage of the shared one: while Redis fails, turns are still
//! serialised within this replica by an in-process lock, and the outage is logged once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ports::{LockError, TurnGuard, TurnLock};

/// `primary` (shared across replicas) with `fallback` (this process) while `primary` fails.
pub struct FallbackTurnLock {
    primary: Arc<dyn TurnLock>,
    fallback: Arc<dyn TurnLock>,
    degraded: AtomicBool,
}

impl FallbackTurnLock {
    /// Combines a shared lock with a local one.
    pub fn new(primary: Arc<dyn TurnLock>, fallback: Arc<dyn TurnLock>) -> Self {
        Self {
            primary,
            fallback,
            degraded: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl TurnLock for FallbackTurnLock {
    async fn try_acquire(
        &self,
        thread_id: &str,
        ttl: Duration,
    ) -> Result<Option<Box<dyn TurnGuard>>, LockError> {
        match self.primary.try_acquire(thread_id, ttl).await {
            Ok(guard) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("shared turn lock is back");
                }
                Ok(guard)
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "shared turn lock unavailable; serialising turns per replica until it returns");
                }
                self.fallback.try_acquire(thread_id, ttl).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::MockTurnLock;

    struct Held;
    impl TurnGuard for Held {}

    #[tokio::test]
    async fn the_local_lock_takes_over_while_the_shared_one_fails() {
        let mut primary = MockTurnLock::new();
        primary
            .expect_try_acquire()
            .returning(|_, _| Err(LockError::Unavailable("down".into())));
        let mut fallback = MockTurnLock::new();
        fallback
            .expect_try_acquire()
            .times(1)
            .returning(|_, _| Ok(Some(Box::new(Held))));
        let lock = FallbackTurnLock::new(Arc::new(primary), Arc::new(fallback));
        assert!(
            lock.try_acquire("thr_1", Duration::from_secs(1))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn the_shared_lock_decides_when_it_answers() {
        let mut primary = MockTurnLock::new();
        primary.expect_try_acquire().returning(|_, _| Ok(None));
        let mut fallback = MockTurnLock::new();
        fallback.expect_try_acquire().never();
        let lock = FallbackTurnLock::new(Arc::new(primary), Arc::new(fallback));
        assert!(
            lock.try_acquire("thr_1", Duration::from_secs(1))
                .await
                .unwrap()
                .is_none()
        );
    }
}
