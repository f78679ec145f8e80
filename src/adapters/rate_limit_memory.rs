//! Outbound adapter: RateLimiter in process memory, for single-node runs and as the fallback
//! while Redis is unavailable.
//!
//! Each key holds the log of every window it was checked against (see `domain::sliding_log`)
//! behind its own mutex, so a check-and-consume is atomic per key without a global lock. The map
//! is a bounded moka cache weighed in stored timestamps: a key idle for its longest window has
//! nothing left in any log, so it is dropped then, and under pressure the least useful keys are
//! evicted (they start afresh, which only errs on the permissive side).

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use crate::domain::ports::{RateLimitError, RateLimiter};
use crate::domain::rate_limit::{Decision, Window};
use crate::domain::sliding_log::{self, Log};

/// A source of "now" in microseconds; it must never go backwards.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Which log a window owns inside a key: its limit and period in µs.
type WindowId = (u32, u128);

/// The state of one key.
struct Bucket {
    /// How long the key may stay idle before it is dropped: its longest period, in µs.
    idle_us: AtomicU64,
    /// The weight the cache knows this key by: 1 plus the capacity of its logs.
    weight: AtomicU32,
    /// One log per window seen; a key rarely has more than two, so a list beats a map.
    logs: Mutex<Vec<(WindowId, Log)>>,
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
            .field("weight", &self.buckets.weighted_size())
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    /// A limiter holding at most about `capacity` timestamps (8 bytes each) over all keys, each
    /// key weighing at least 1, on a monotonic clock.
    pub fn new(capacity: u64) -> Self {
        let base = Instant::now();
        // Monotonic on purpose: a wall clock set back would keep requests in their windows.
        Self::with_clock(capacity, move || {
            u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
        })
    }

    /// A limiter on the given clock (µs, never going backwards), for tests.
    pub fn with_clock(capacity: u64, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self {
            buckets: Cache::builder()
                .max_capacity(capacity)
                .weigher(|_, bucket: &Arc<Bucket>| bucket.weight.load(Ordering::Relaxed))
                .expire_after(IdleForLongestWindow)
                .build(),
            clock: Arc::new(clock),
        }
    }
}

fn id(window: &Window) -> WindowId {
    (window.limit, window.period.as_micros())
}

/// The longest period of `windows`, in µs: after it, every log of the key is empty.
fn longest_us(windows: &[Window]) -> u64 {
    windows
        .iter()
        .map(|w| u64::try_from(w.period.as_micros()).unwrap_or(u64::MAX))
        .max()
        .unwrap_or(0)
}

/// The slot of `window`'s log among a key's logs, added empty when missing.
fn slot<'a>(logs: &'a mut Vec<(WindowId, Log)>, window: &Window) -> &'a mut Log {
    let id = id(window);
    let at = match logs.iter().position(|(seen, _)| *seen == id) {
        Some(at) => at,
        None => {
            logs.push((id, Log::new()));
            logs.len() - 1
        }
    };
    &mut logs[at].1
}

/// What a key costs the cache: its allocated timestamps, plus one for the key itself.
fn weight(logs: &[(WindowId, Log)]) -> u32 {
    let stamps: usize = logs.iter().map(|(_, log)| log.capacity()).sum();
    u32::try_from(stamps.saturating_add(1)).unwrap_or(u32::MAX)
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        let longest = longest_us(windows);
        let bucket = self.buckets.get_with(key.to_owned(), || {
            Arc::new(Bucket {
                idle_us: AtomicU64::new(longest),
                weight: AtomicU32::new(1),
                logs: Mutex::new(Vec::new()),
            })
        });
        // A longer window than before keeps the key longer from its next access on.
        bucket.idle_us.fetch_max(longest, Ordering::Relaxed);
        // The logs only hold numbers, always consistent, so a poisoned lock is still usable.
        let mut logs = bucket.logs.lock().unwrap_or_else(PoisonError::into_inner);
        // Moved out and back, not copied: the domain works on one log per window, in order.
        let mut taken: Vec<Log> = windows
            .iter()
            .map(|w| std::mem::take(slot(&mut logs, w)))
            .collect();
        // Read the clock under the lock, so the logs of one key see time in order.
        let decision = sliding_log::check((self.clock)(), windows, &mut taken);
        for (window, log) in windows.iter().zip(taken) {
            *slot(&mut logs, window) = log;
        }
        logs.retain(|(_, log)| log.capacity() > 0);
        // The cache weighs a key when it is inserted: insert it again when its logs grew, which
        // happens about log2(limit) times as a key fills up. Under the lock, so the last weight
        // stored is the current one.
        let weight = weight(&logs);
        if bucket.weight.swap(weight, Ordering::Relaxed) != weight {
            self.buckets.insert(key.to_owned(), bucket.clone());
        }
        Ok(decision)
    }

    async fn peek(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        let Some(bucket) = self.buckets.get(key) else {
            return Ok(sliding_log::peek::<Log>((self.clock)(), windows, &[]));
        };
        let logs = bucket.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let empty = Log::new();
        let ordered: Vec<&Log> = windows
            .iter()
            .map(|w| {
                logs.iter()
                    .find(|(seen, _)| *seen == id(w))
                    .map_or(&empty, |(_, log)| log)
            })
            .collect();
        Ok(sliding_log::peek((self.clock)(), windows, &ordered))
    }
}
