//! Outbound adapter: LessonCache in process memory (moka) — the L1 tier, or the only tier when
//! no Redis is configured.

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
    retain: Duration,
}

struct RetainFor;

impl Expiry<String, Entry> for RetainFor {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.retain)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.retain)
    }
}

/// A bounded in-process lesson cache.
#[derive(Clone)]
pub struct MemoryLessonCache {
    entries: moka::sync::Cache<String, Entry>,
}

impl MemoryLessonCache {
    /// At most `capacity` lessons; each entry lives for the retention it was stored with.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(RetainFor)
                .build(),
        }
    }
}

#[async_trait]
impl LessonCache for MemoryLessonCache {
    async fn get(&self, path: &LessonPath) -> Result<CacheLookup, CacheError> {
        Ok(match self.entries.get(path.as_str()) {
            None => CacheLookup::Miss,
            Some(Entry { copy: None, .. }) => CacheLookup::Missing,
            Some(Entry {
                copy: Some(copy),
                fresh_until,
                ..
            }) => CacheLookup::Hit(CachedLesson {
                stale: Instant::now() >= fresh_until,
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
        let entry = Entry {
            copy: Some(CachedLesson {
                stale: false,
                ..lesson.clone()
            }),
            fresh_until: Instant::now() + fresh_for,
            retain: retain.max(fresh_for),
        };
        self.entries
            .insert(lesson.lesson.path.as_str().to_string(), entry);
        Ok(())
    }

    async fn put_missing(&self, path: &LessonPath, ttl: Duration) -> Result<(), CacheError> {
        let ttl = ttl.min(Duration::from_secs(60));
        self.entries.insert(
            path.as_str().to_string(),
            Entry {
                copy: None,
                fresh_until: Instant::now() + ttl,
                retain: ttl,
            },
        );
        Ok(())
    }

    async fn invalidate(&self, paths: &[LessonPath]) -> Result<u64, CacheError> {
        if paths.is_empty() {
            let count = self.entries.entry_count();
            self.entries.invalidate_all();
            return Ok(count);
        }
        let mut purged = 0;
        for path in paths {
            if self.entries.remove(path.as_str()).is_some() {
                purged += 1;
            }
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
        assert_eq!(
            cache.get(&LessonPath::parse("b").unwrap()).await.unwrap(),
            CacheLookup::Miss
        );
    }
}
