//! The LessonCache contract, run against the in-process tier and the Redis tier, plus the Redis
//! purge bus. Every Redis test uses a namespace of its own, so tests never see each other.

use std::time::Duration;

use fred::prelude::Client;
use study_mode_api::adapters::lesson_cache_memory::MemoryLessonCache;
use study_mode_api::adapters::lesson_cache_redis::RedisLessonCache;
use study_mode_api::adapters::redis::RedisClient;
use study_mode_api::config::RedisConfig;
use study_mode_api::domain::lesson::{CachedLesson, LessonPath, RawLesson};
use study_mode_api::domain::ports::{CacheLookup, LessonCache};

use crate::helpers::test_redis_url;

/// Loose bound for "arrives" / "does not hang"; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);
const LONG: Duration = Duration::from_secs(60);

fn path(raw: &str) -> LessonPath {
    LessonPath::parse(raw).expect("valid lesson path")
}

fn copy(raw: &str) -> CachedLesson {
    CachedLesson {
        lesson: RawLesson {
            path: path(raw),
            markdown: format!(
                "---\ntitle: \"{raw}\"\n---\n# Caf\u{e9} {raw}\n\nA \\ and a \"quote\".\n"
            ),
        },
        fetched_at: 1_767_225_600,
        stale: false,
    }
}

fn client(url: &str) -> Client {
    let config = RedisConfig {
        url: url.to_string().into(),
        password: None,
    };
    RedisClient::connect(&config)
        .expect("valid Redis URL")
        .client()
        .clone()
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn redis_cache() -> Option<RedisLessonCache> {
    let url = test_redis_url().await?;
    Some(RedisLessonCache::new(client(&url), &unique(), "main"))
}

/// Each contract function runs once per tier: `memory::<name>` and `redis::<name>`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(&super::MemoryLessonCache::new(100)).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                let Some(cache) = super::redis_cache().await else { return };
                super::$name(&cache).await;
            })*
        }
    };
}

contract!(
    a_stored_copy_is_a_fresh_hit_with_every_field_intact,
    a_copy_turns_stale_after_its_freshness_and_is_gone_after_its_retention,
    a_retention_shorter_than_the_freshness_is_raised_to_the_freshness,
    a_negative_entry_reads_as_missing_until_its_ttl_ends,
    a_copy_and_a_negative_entry_of_one_path_replace_each_other,
    invalidating_paths_keeps_their_copies_as_stale_drops_negative_entries_and_counts_them,
    invalidating_everything_keeps_every_copy_as_stale_and_later_copies_are_fresh,
);

async fn a_stored_copy_is_a_fresh_hit_with_every_field_intact(cache: &dyn LessonCache) {
    let lesson = copy("01-Foundations/02-Agents/01-what-is-an-agent");
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Miss
    );
    // A copy handed in as stale is stored as a good copy.
    let handed_in = CachedLesson {
        stale: true,
        ..lesson.clone()
    };
    cache.put(&handed_in, LONG, LONG).await.unwrap();
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Hit(lesson)
    );
}

async fn a_copy_turns_stale_after_its_freshness_and_is_gone_after_its_retention(
    cache: &dyn LessonCache,
) {
    let lesson = copy("a/short-lived");
    cache
        .put(
            &lesson,
            Duration::from_millis(100),
            Duration::from_millis(1_000),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Hit(CachedLesson {
            stale: true,
            ..lesson.clone()
        })
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Miss
    );
}

async fn a_retention_shorter_than_the_freshness_is_raised_to_the_freshness(
    cache: &dyn LessonCache,
) {
    let lesson = copy("a/retain-short");
    cache
        .put(&lesson, LONG, Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Hit(lesson)
    );
}

async fn a_negative_entry_reads_as_missing_until_its_ttl_ends(cache: &dyn LessonCache) {
    let (kept, brief) = (path("gone/kept"), path("gone/brief"));
    cache.put_missing(&kept, LONG).await.unwrap();
    cache
        .put_missing(&brief, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(cache.get(&kept).await.unwrap(), CacheLookup::Missing);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(&brief).await.unwrap(), CacheLookup::Miss);
    assert_eq!(cache.get(&kept).await.unwrap(), CacheLookup::Missing);
}

async fn a_copy_and_a_negative_entry_of_one_path_replace_each_other(cache: &dyn LessonCache) {
    let lesson = copy("flip/flop");
    let p = &lesson.lesson.path;
    cache.put_missing(p, LONG).await.unwrap();
    cache.put(&lesson, LONG, LONG).await.unwrap();
    assert_eq!(
        cache.get(p).await.unwrap(),
        CacheLookup::Hit(lesson.clone())
    );
    cache.put_missing(p, LONG).await.unwrap();
    assert_eq!(cache.get(p).await.unwrap(), CacheLookup::Missing);
}

async fn invalidating_paths_keeps_their_copies_as_stale_drops_negative_entries_and_counts_them(
    cache: &dyn LessonCache,
) {
    let (a, b) = (copy("p/a"), copy("p/b"));
    let (c, never) = (path("p/c"), path("p/never-cached"));
    cache.put(&a, LONG, LONG).await.unwrap();
    cache.put(&b, LONG, LONG).await.unwrap();
    cache.put_missing(&c, LONG).await.unwrap();

    let purged = cache
        .invalidate(&[a.lesson.path.clone(), c.clone(), never])
        .await
        .unwrap();

    assert_eq!(purged, 2, "a and c existed, the third path did not");
    assert_eq!(
        cache.get(&a.lesson.path).await.unwrap(),
        CacheLookup::Hit(CachedLesson {
            stale: true,
            ..a.clone()
        }),
        "the last good copy is kept, marked stale"
    );
    assert_eq!(cache.get(&c).await.unwrap(), CacheLookup::Miss);
    assert_eq!(
        cache.get(&b.lesson.path).await.unwrap(),
        CacheLookup::Hit(b.clone())
    );
    cache.put(&a, LONG, LONG).await.unwrap();
    assert_eq!(
        cache.get(&a.lesson.path).await.unwrap(),
        CacheLookup::Hit(a.clone()),
        "a new copy is fresh again"
    );
}

async fn invalidating_everything_keeps_every_copy_as_stale_and_later_copies_are_fresh(
    cache: &dyn LessonCache,
) {
    let (a, gone) = (copy("all/a"), path("all/gone"));
    cache.put(&a, LONG, LONG).await.unwrap();
    cache.put_missing(&gone, LONG).await.unwrap();

    cache.invalidate(&[]).await.unwrap();

    assert_eq!(
        cache.get(&a.lesson.path).await.unwrap(),
        CacheLookup::Hit(CachedLesson {
            stale: true,
            ..a.clone()
        })
    );
    assert_eq!(cache.get(&gone).await.unwrap(), CacheLookup::Miss);
    cache.put(&a, LONG, LONG).await.unwrap();
    assert_eq!(
        cache.get(&a.lesson.path).await.unwrap(),
        CacheLookup::Hit(a.clone())
    );
    cache.put_missing(&gone, LONG).await.unwrap();
    assert_eq!(cache.get(&gone).await.unwrap(), CacheLookup::Missing);
}

mod bus;
mod redis_only;
