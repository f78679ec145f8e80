//! Refreshes against a mocked (or scripted) source and in-memory caches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::adapters::lesson_cache_memory::MemoryLessonCache;
use crate::app::lessons::{LessonMetrics, LessonSettings};
use crate::domain::ports::{
    LessonCache, LessonSource, LessonSourceError, MockInvalidationBus, MockLessonSource,
    MockTurnLock,
};

fn path() -> LessonPath {
    LessonPath::parse("01-part/01-lesson").expect("valid path")
}

fn raw(markdown: &str) -> RawLesson {
    RawLesson {
        path: path(),
        markdown: markdown.to_string(),
    }
}

fn copy(markdown: &str) -> CachedLesson {
    CachedLesson {
        lesson: raw(markdown),
        fetched_at: 1,
        stale: false,
    }
}

struct Tiers {
    l1: Arc<MemoryLessonCache>,
    l2: Arc<MemoryLessonCache>,
}

/// A service with both tiers and `bus`; the cross-replica fetch lock must not be used.
fn shared(source: MockLessonSource, bus: MockInvalidationBus) -> (LessonService, Tiers) {
    let tiers = Tiers {
        l1: Arc::new(MemoryLessonCache::new(100)),
        l2: Arc::new(MemoryLessonCache::new(100)),
    };
    let service = LessonService::new(
        Arc::new(source),
        tiers.l1.clone(),
        LessonSettings::default(),
        LessonMetrics::new(None),
    )
    .with_shared(
        tiers.l2.clone(),
        Arc::new(bus),
        Arc::new(MockTurnLock::new()),
    );
    (service, tiers)
}

/// A bus that expects exactly `announcements` of this test's path.
fn bus(announcements: usize) -> MockInvalidationBus {
    let mut bus = MockInvalidationBus::new();
    bus.expect_publish()
        .withf(|purge| *purge == Invalidation::Paths(vec![path()]))
        .times(announcements)
        .returning(|_| Ok(()));
    bus
}

/// A stale copy of `markdown` in `cache` (a purged one).
async fn stale_copy_in(cache: &MemoryLessonCache, markdown: &str) {
    let day = Duration::from_secs(86_400);
    cache.put(&copy(markdown), day, day).await.expect("put");
    cache.invalidate(&[path()]).await.expect("purge");
}

async fn fresh_text(cache: &MemoryLessonCache) -> Option<String> {
    match cache.get(&path()).await.expect("lookup") {
        CacheLookup::Hit(hit) if !hit.stale => Some(hit.lesson.markdown),
        _ => None,
    }
}

fn answering(expected_etag: Option<&'static str>, answer: Conditional) -> MockLessonSource {
    let mut source = MockLessonSource::new();
    source
        .expect_fetch_if_changed()
        .withf(move |p, etag| *p == path() && etag.as_deref() == expected_etag)
        .times(1)
        .returning(move |_, _| Ok(answer.clone()));
    source
}

#[tokio::test]
async fn a_confirmed_copy_is_unchanged_and_fresh_again_in_both_tiers() {
    let source = answering(Some("\"v1\""), Conditional::NotModified);
    let (service, tiers) = shared(source, bus(0));
    stale_copy_in(&tiers.l2, "# One").await;

    let refreshed = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert_eq!(
        refreshed,
        Ok(Refreshed::Unchanged {
            lesson: raw("# One")
        })
    );
    assert_eq!(fresh_text(&tiers.l2).await.as_deref(), Some("# One"));
    assert_eq!(fresh_text(&tiers.l1).await.as_deref(), Some("# One"));
}

#[tokio::test]
async fn a_changed_lesson_is_updated_fresh_in_l2_and_announced_to_every_replica() {
    let source = answering(
        Some("\"v1\""),
        Conditional::Modified {
            lesson: raw("# Two"),
            etag: Some("\"v2\"".into()),
        },
    );
    let (service, tiers) = shared(source, bus(1));
    stale_copy_in(&tiers.l2, "# One").await;

    let refreshed = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert_eq!(
        refreshed,
        Ok(Refreshed::Updated {
            lesson: raw("# Two"),
            etag: Some("\"v2\"".into())
        })
    );
    assert_eq!(
        fresh_text(&tiers.l2).await.as_deref(),
        Some("# Two"),
        "the announcement must not mark the new shared copy stale"
    );
}

#[tokio::test]
async fn a_download_of_the_same_text_is_updated_without_an_announcement() {
    let source = answering(
        Some("\"v1\""),
        Conditional::Modified {
            lesson: raw("# One"),
            etag: Some("\"v1b\"".into()),
        },
    );
    let (service, tiers) = shared(source, bus(0));
    stale_copy_in(&tiers.l2, "# One").await;

    let refreshed = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert!(matches!(refreshed, Ok(Refreshed::Updated { etag: Some(e), .. }) if e == "\"v1b\""));
    assert_eq!(fresh_text(&tiers.l2).await.as_deref(), Some("# One"));
}

#[tokio::test]
async fn without_a_cached_copy_the_validator_is_not_sent() {
    let source = answering(
        None,
        Conditional::Modified {
            lesson: raw("# New"),
            etag: Some("\"n\"".into()),
        },
    );
    let (service, tiers) = shared(source, bus(1));

    let refreshed = service.refresh(&path(), Some("\"old\"".into())).await;

    assert!(matches!(refreshed, Ok(Refreshed::Updated { .. })));
    assert_eq!(fresh_text(&tiers.l2).await.as_deref(), Some("# New"));
    assert_eq!(fresh_text(&tiers.l1).await.as_deref(), Some("# New"));
}

#[tokio::test]
async fn without_a_shared_tier_the_in_process_copy_is_the_one_confirmed() {
    let source = answering(Some("\"v1\""), Conditional::NotModified);
    let l1 = Arc::new(MemoryLessonCache::new(100));
    let service = LessonService::new(
        Arc::new(source),
        l1.clone(),
        LessonSettings::default(),
        LessonMetrics::new(None),
    );
    stale_copy_in(&l1, "# One").await;

    let refreshed = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert!(matches!(refreshed, Ok(Refreshed::Unchanged { .. })));
    assert_eq!(fresh_text(&l1).await.as_deref(), Some("# One"));
}

#[tokio::test]
async fn a_lesson_gone_from_the_source_is_remembered_missing_in_both_tiers() {
    let mut source = MockLessonSource::new();
    source
        .expect_fetch_if_changed()
        .times(1)
        .returning(|_, _| Err(LessonSourceError::NotFound));
    let (service, tiers) = shared(source, bus(0));
    stale_copy_in(&tiers.l2, "# One").await;

    let refreshed = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert_eq!(refreshed, Err(LessonError::NotFound));
    assert_eq!(tiers.l2.get(&path()).await.ok(), Some(CacheLookup::Missing));
    assert_eq!(tiers.l1.get(&path()).await.ok(), Some(CacheLookup::Missing));
}

#[tokio::test]
async fn source_failures_reach_the_caller_even_with_a_copy_cached() {
    let mut source = MockLessonSource::new();
    let mut calls = 0;
    source
        .expect_fetch_if_changed()
        .times(2)
        .returning(move |_, _| {
            calls += 1;
            Err(if calls == 1 {
                LessonSourceError::Unavailable("GitHub answered 500".into())
            } else {
                LessonSourceError::Backoff {
                    retry_after: Some(Duration::from_secs(42)),
                    reason: "circuit open".into(),
                }
            })
        });
    let (service, tiers) = shared(source, bus(0));
    stale_copy_in(&tiers.l2, "# One").await;

    let failed = service.refresh(&path(), Some("\"v1\"".into())).await;
    let refused = service.refresh(&path(), Some("\"v1\"".into())).await;

    assert_eq!(failed, Err(LessonError::Unavailable));
    assert_eq!(
        refused,
        Err(LessonError::SourceBackingOff {
            retry_after: Duration::from_secs(42)
        })
    );
    assert_eq!(
        fresh_text(&tiers.l2).await,
        None,
        "the stale copy stays stale"
    );
}

/// Answers plain fetches slowly, counting both kinds of fetch.
#[derive(Default)]
struct Slow {
    fetches: AtomicUsize,
    conditional: AtomicUsize,
}

#[async_trait]
impl LessonSource for Slow {
    async fn fetch(&self, path: &LessonPath) -> Result<RawLesson, LessonSourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(RawLesson {
            path: path.clone(),
            markdown: "# Slow".into(),
        })
    }

    async fn fetch_if_changed(
        &self,
        _: &LessonPath,
        _: Option<String>,
    ) -> Result<Conditional, LessonSourceError> {
        self.conditional.fetch_add(1, Ordering::SeqCst);
        Err(LessonSourceError::Unavailable("not expected".into()))
    }
}

#[tokio::test]
async fn a_refresh_shares_a_students_fetch_already_under_way() {
    let source = Arc::new(Slow::default());
    let service = Arc::new(LessonService::new(
        source.clone(),
        Arc::new(MemoryLessonCache::new(100)),
        LessonSettings::default(),
        LessonMetrics::new(None),
    ));
    let loading = {
        let service = service.clone();
        tokio::spawn(async move { service.load(&path(), "student").await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;

    let refreshed = service.refresh(&path(), Some("\"v\"".into())).await;

    assert_eq!(
        refreshed,
        Ok(Refreshed::Updated {
            lesson: raw("# Slow"),
            etag: None
        })
    );
    assert_eq!(loading.await.expect("load task"), Ok(()));
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(source.conditional.load(Ordering::SeqCst), 0);
}
