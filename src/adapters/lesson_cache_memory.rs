//! Outbound adapter: LessonCache in process memory (moka) — the L1 tier, or the only tier when
//! no Redis is configured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;

use crate::domain::lesson::{CachedLesson, LessonPath};
use crate::domain::ports::{CacheError, CacheLookup, LessonCache};

#[derive(Clone)]
struct Entry {
    /// `None` remembers that the source has no such lesson.
    copy: Option<CachedLesson>,
    fresh_until: Instant,
    /// When the entry goes; a purge rewrites the entry and keeps it.
    expires_at: Instant,
    /// The purge-all epoch it was stored in; an older entry has been purged (stale copy,
    /// forgotten negative entry).
    epoch: u64,
}

/// Each entry expires at its own `expires_at`.
struct RetainFor;

impl Expiry<String, Entry> for RetainFor {
    fn expire_after_create(&self, _key: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }
}

/// A bounded in-process lesson cache.
#[derive(Clone)]
pub struct MemoryLessonCache {
    entries: moka::sync::Cache<String, Entry>,
    /// Bumped by a purge of everything, so it costs nothing however many entries there are.
    epoch: Arc<AtomicU64>,
}

impl MemoryLessonCache {
    /// At most `capacity` lessons; each entry lives for the retention it was stored with.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(RetainFor)
                .build(),
            epoch: Arc::new(AtomicU64::new(0)),
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }
}

#[async_trait]
impl LessonCache for MemoryLessonCache {
    async fn get(&self, path: &LessonPath) -> Result<CacheLookup, CacheError> {
        let epoch = self.epoch();
        Ok(match self.entries.get(path.as_str()) {
            None => CacheLookup::Miss,
            Some(Entry {
                copy: None,
                epoch: stored,
                ..
            }) if stored < epoch => CacheLookup::Miss,
            Some(Entry { copy: None, .. }) => CacheLookup::Missing,
            Some(Entry {
                copy: Some(copy),
                fresh_until,
                epoch: stored,
                ..
            }) => CacheLookup::Hit(CachedLesson {
                stale: stored < epoch || Instant::now() >= fresh_until,
                ..copy
            }),
        })
    }

    async fn put(
        &self,
        lesson: &CachedLesson,
        fresh_for: Duration,
        retain: Duration,
    ) -> Result<(), CacheError> {
        let now = Instant::now();
        let entry = Entry {
            copy: Some(CachedLesson {
                stale: false,
                ..lesson.clone()
            }),
            fresh_until: now + fresh_for,
            expires_at: now + retain.max(fresh_for),
            epoch: self.epoch(),
        };
        self.entries
            .insert(lesson.lesson.path.as_str().to_string(), entry);
        Ok(())
    }

    async fn put_missing(&self, path: &LessonPath, ttl: Duration) -> Result<(), CacheError> {
        let ttl = ttl.min(Duration::from_secs(60));
        let until = Instant::now() + ttl;
        self.entries.insert(
            path.as_str().to_string(),
            Entry {
                copy: None,
                fresh_until: until,
                expires_at: until,
                epoch: self.epoch(),
            },
        );
        Ok(())
    }

    async fn invalidate(&self, paths: &[LessonPath]) -> Result<u64, CacheError> {
        if paths.is_empty() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            return Ok(self.entries.entry_count());
        }
        let mut purged = 0;
        let now = Instant::now();
        for path in paths {
            let key = path.as_str();
            let Some(entry) = self.entries.get(key) else {
                continue;
            };
            purged += 1;
            if entry.copy.is_none() {
                self.entries.remove(key);
                continue;
            }
            // Kept as the last good copy: stale from now on, expiring when it would have.
            self.entries.insert(
                key.to_string(),
                Entry {
                    fresh_until: now,
                    ..entry
                },
            );
        }
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lesson::RawLesson;

    fn copy(path: &str) -> CachedLesson {
        let path = LessonPath::parse(path).unwrap();
        CachedLesson {
            lesson: RawLesson {
                path,
                markdown: "# T\n".into(),
            },
            fetched_at: 1,
            stale: false,
        }
    }

    #[tokio::test]
    async fn entries_turn_stale_after_their_freshness_and_vanish_after_retention() {
        let cache = MemoryLessonCache::new(10);
        let path = LessonPath::parse("a/b").unwrap();
        assert_eq!(cache.get(&path).await.unwrap(), CacheLookup::Miss);
        cache
            .put(
                &copy("a/b"),
                Duration::from_millis(30),
                Duration::from_millis(200),
            )
            .await
            .unwrap();
        assert!(matches!(cache.get(&path).await.unwrap(), CacheLookup::Hit(c) if !c.stale));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(matches!(cache.get(&path).await.unwrap(), CacheLookup::Hit(c) if c.stale));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get(&path).await.unwrap(), CacheLookup::Miss);
    }

    #[tokio::test]
    async fn missing_entries_and_purges() {
        let cache = MemoryLessonCache::new(10);
        let a = LessonPath::parse("a").unwrap();
        cache.put_missing(&a, Duration::from_secs(5)).await.unwrap();
        assert_eq!(cache.get(&a).await.unwrap(), CacheLookup::Missing);
        cache
            .put(&copy("b"), Duration::from_secs(5), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(cache.invalidate(std::slice::from_ref(&a)).await.unwrap(), 1);
        assert_eq!(cache.get(&a).await.unwrap(), CacheLookup::Miss);
        cache.invalidate(&[]).await.unwrap();
        assert!(matches!(
            cache.get(&LessonPath::parse("b").unwrap()).await.unwrap(),
            CacheLookup::Hit(c) if c.stale
        ));
    }

    #[tokio::test]
    async fn a_purged_copy_keeps_the_expiry_it_had() {
        let cache = MemoryLessonCache::new(10);
        let b = LessonPath::parse("b").unwrap();
        let retain = Duration::from_millis(400);
        cache.put(&copy("b"), retain, retain).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;

        cache.invalidate(std::slice::from_ref(&b)).await.unwrap();

        assert!(matches!(cache.get(&b).await.unwrap(), CacheLookup::Hit(c) if c.stale));
        // Past the original expiry, well before a retention restarted by the purge would end.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get(&b).await.unwrap(), CacheLookup::Miss);
    }
}
