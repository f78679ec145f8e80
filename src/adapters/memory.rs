//! Outbound adapters kept in process memory: for single-node runs and as fallbacks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ports::{LockError, TurnGuard, TurnLock};

/// [`TurnLock`] for one process: a set of thread ids with a turn in progress.
#[derive(Debug, Default, Clone)]
pub struct MemoryTurnLock {
    held: Arc<Mutex<HashSet<String>>>,
}

impl MemoryTurnLock {
    /// An empty lock table.
    pub fn new() -> Self {
        Self::default()
    }
}

struct MemoryGuard {
    held: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl TurnGuard for MemoryGuard {}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&self.key);
        }
    }
}

#[async_trait]
impl TurnLock for MemoryTurnLock {
    async fn try_acquire(
        &self,
        thread_id: &str,
        _ttl: Duration,
    ) -> Result<Option<Box<dyn TurnGuard>>, LockError> {
        // The guard lives exactly as long as the turn task, which is itself bounded by the model
        // timeout, so the in-process lock needs no expiry of its own.
        let mut held = self
            .held
            .lock()
            .map_err(|_| LockError::Unavailable("lock table poisoned".into()))?;
        if !held.insert(thread_id.to_string()) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemoryGuard {
            held: self.held.clone(),
            key: thread_id.to_string(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_turn_on_the_same_thread_is_refused_until_the_first_ends() {
        let lock = MemoryTurnLock::new();
        let ttl = Duration::from_secs(60);
        let first = lock.try_acquire("thr_1", ttl).await.unwrap();
        assert!(first.is_some());
        assert!(lock.try_acquire("thr_1", ttl).await.unwrap().is_none());
        assert!(
            lock.try_acquire("thr_2", ttl).await.unwrap().is_some(),
            "other threads are free"
        );
        drop(first);
        assert!(lock.try_acquire("thr_1", ttl).await.unwrap().is_some());
    }
}
