//! Outbound adapter: TokenLedger in process memory, for single-node runs and as the floor
//! while Redis is unavailable.
//!
//! One atomic counter per (key, day) in a bounded moka cache. A day's counter is needed until
//! that day is over, so each lives [`KEEP`] (two days) from its first charge and is dropped
//! then; under pressure the least recently used go first (their students start the day
//! afresh, which only errs on the permissive side).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use moka::sync::Cache;

use crate::domain::ports::{LedgerError, TokenLedger};

/// How long a day's counter is kept after its first charge.
pub const KEEP: Duration = Duration::from_secs(2 * 86_400);

/// [`TokenLedger`] local to this process.
#[derive(Clone)]
pub struct MemoryTokenLedger {
    counts: Cache<(String, NaiveDate), Arc<AtomicU64>>,
}

impl std::fmt::Debug for MemoryTokenLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTokenLedger")
            .field("counters", &self.counts.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryTokenLedger {
    /// A ledger of at most `capacity` (student, day) counters (about 100 bytes each).
    pub fn new(capacity: u64) -> Self {
        Self {
            counts: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(KEEP)
                .build(),
        }
    }
}

#[async_trait]
impl TokenLedger for MemoryTokenLedger {
    async fn spent(&self, key: &str, day: NaiveDate) -> Result<u64, LedgerError> {
        Ok(self
            .counts
            .get(&(key.to_owned(), day))
            .map_or(0, |n| n.load(Ordering::Acquire)))
    }

    async fn charge(&self, key: &str, day: NaiveDate, tokens: u64) -> Result<u64, LedgerError> {
        let counter = self
            .counts
            .get_with((key.to_owned(), day), || Arc::new(AtomicU64::new(0)));
        let mut seen = counter.load(Ordering::Acquire);
        loop {
            let total = seen.saturating_add(tokens);
            match counter.compare_exchange_weak(seen, total, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(total),
                Err(now) => seen = now,
            }
        }
    }
}
