//! Outbound adapter: RateLimiter in process memory, for single-node runs and as the fallback
//! while Redis is unavailable.
//!
//! Each key holds the TAT of every window it was checked against (see `domain::gcra`) behind
//! its own mutex, so a check-and-consume is atomic per key without a global lock. The map is a
//! bounded moka cache: a key idle for its longest window is fully replenished, so it is dropped
//! then, and under pressure the least useful keys are evicted (they start afresh, which only
//! errs on the permissive side).

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use crate::domain::gcra;
use crate::domain::ports::{RateLimitError, RateLimiter};
use crate::domain::rate_limit::{Decision, Window};

/// A source of "now" in microseconds; it must never go backwards.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Which TAT a window owns inside a key: its limit and period in µs.
type WindowId = (u32, u128);

/// The state of one key.
struct Bucket {
    /// How long the key may stay idle before it is dropped: its longest period, in µs.
    idle_us: AtomicU64,
    tats: Mutex<HashMap<WindowId, u64>>,
}

impl Bucket {
    fn idle(&self) -> Duration {
        Duration::from_micros(self.idle_us.load(Ordering::Relaxed))
    }
}

/// Drops a key once it has been idle for its longest window.
struct IdleForLongestWindow;

impl Expiry<String, Arc<Bucket>> for IdleForLongestWindow {
    fn expire_after_create(
        &self,
        _: &String,
        bucket: &Arc<Bucket>,
        _: Instant,
    ) -> Option<Duration> {
        Some(bucket.idle())
    }

    fn expire_after_read(
        &self,
        _: &String,
        bucket: &Arc<Bucket>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(bucket.idle())
    }

    fn expire_after_update(
        &self,
        _: &String,
        bucket: &Arc<Bucket>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(bucket.idle())
    }
}

/// [`RateLimiter`] local to this process.
#[derive(Clone)]
pub struct MemoryRateLimiter {
    buckets: Cache<String, Arc<Bucket>>,
    clock: Clock,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("keys", &self.buckets.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    /// A limiter tracking at most `max_keys` keys, on a monotonic clock.
    pub fn new(max_keys: u64) -> Self {
        let base = Instant::now();
        // Monotonic on purpose: a wall clock set back would leave every key in debt.
        Self::with_clock(max_keys, move || {
            u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
        })
    }

    /// A limiter on the given clock (µs, never going backwards), for tests.
    pub fn with_clock(max_keys: u64, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self {
            buckets: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(IdleForLongestWindow)
                .build(),
            clock: Arc::new(clock),
        }
    }
}

fn id(window: &Window) -> WindowId {
    (window.limit, window.period.as_micros())
}

/// The longest time any window of `windows` needs to replenish fully, in µs.
fn longest_us(windows: &[Window]) -> u64 {
    windows
        .iter()
        .map(|w| {
            let period = u64::try_from(w.period.as_micros()).unwrap_or(u64::MAX);
            // A limit above the period's µs stretches the window (1 µs per request at least).
            period.max(gcra::intervals(w).1)
        })
        .max()
        .unwrap_or(0)
}

fn stored(tats: &HashMap<WindowId, u64>, windows: &[Window]) -> Vec<u64> {
    windows
        .iter()
        .map(|w| tats.get(&id(w)).copied().unwrap_or(0))
        .collect()
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        let longest = longest_us(windows);
        let bucket = self.buckets.get_with(key.to_owned(), || {
            Arc::new(Bucket {
                idle_us: AtomicU64::new(longest),
                tats: Mutex::new(HashMap::new()),
            })
        });
        // A longer window than before keeps the key longer from its next access on.
        bucket.idle_us.fetch_max(longest, Ordering::Relaxed);
        // The map only holds numbers, always consistent, so a poisoned lock is still usable.
        let mut tats = bucket.tats.lock().unwrap_or_else(PoisonError::into_inner);
        // Read the clock under the lock, so the TATs of one key see time in order.
        let (decision, next) = gcra::check((self.clock)(), windows, &stored(&tats, windows));
        if decision.allowed {
            for (window, tat) in windows.iter().zip(next) {
                tats.insert(id(window), tat);
            }
        }
        Ok(decision)
    }

    async fn peek(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        let Some(bucket) = self.buckets.get(key) else {
            return Ok(gcra::peek((self.clock)(), windows, &[]));
        };
        let tats = bucket.tats.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(gcra::peek((self.clock)(), windows, &stored(&tats, windows)))
    }
}
