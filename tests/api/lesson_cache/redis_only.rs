//! What only the Redis tier promises: its key layout, separate books, script reloads, outages.

use std::time::Duration;

use fred::prelude::{KeysInterface, LuaInterface};
use study_mode_api::adapters::lesson_cache_redis::RedisLessonCache;
use study_mode_api::domain::ports::{CacheError, CacheLookup, LessonCache};

use super::{LONG, PATIENCE, client, copy, path, unique};
use crate::helpers::test_redis_url;

#[tokio::test]
async fn entries_live_under_a_versioned_namespace_and_expire_by_their_own_ttl() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let raw = client(&url);
    let repo = unique();
    let cache = RedisLessonCache::new(raw.clone(), &repo, "main");
    let ns = format!("lesson:v2:{{{repo}@main}}");
    let lesson = copy("keys/a");

    // Act
    cache
        .put(&lesson, Duration::from_secs(30), Duration::from_secs(90))
        .await
        .unwrap();
    cache
        .put_missing(&path("keys/b"), Duration::from_secs(600))
        .await
        .unwrap();

    // Assert
    let stored: String = raw.get(format!("{ns}:c:keys/a")).await.unwrap();
    let (epoch, stored) = stored.split_once('|').expect("epoch|copy");
    assert_eq!(epoch, "0");
    let stored: serde_json::Value = serde_json::from_str(stored).unwrap();
    assert_eq!(stored["markdown"], lesson.lesson.markdown.as_str());
    assert_eq!(stored["fetched_at"], lesson.fetched_at);
    assert!(stored["fresh_until"].is_i64(), "{stored}");
    let entry_ttl: i64 = raw.pttl(format!("{ns}:c:keys/a")).await.unwrap();
    assert!(
        entry_ttl > 30_000 && entry_ttl <= 90_000,
        "kept for the retention, not the freshness: {entry_ttl}"
    );
    let missing_ttl: i64 = raw.pttl(format!("{ns}:m:keys/b")).await.unwrap();
    assert!(
        (1..=60_000).contains(&missing_ttl),
        "negative entries are capped at 60 s: {missing_ttl}"
    );

    cache.invalidate(&[]).await.unwrap();
    let epoch: i64 = raw.get(format!("{ns}:epoch")).await.unwrap();
    assert_eq!(epoch, 1);
    cache
        .invalidate(std::slice::from_ref(&lesson.lesson.path))
        .await
        .unwrap();
    let purged: String = raw.get(format!("{ns}:c:keys/a")).await.unwrap();
    assert!(purged.starts_with("-1|"), "purged copies are kept");
    let purged_ttl: i64 = raw.pttl(format!("{ns}:c:keys/a")).await.unwrap();
    assert!(
        purged_ttl > 30_000 && purged_ttl <= entry_ttl,
        "a purge keeps the copy's expiry: {purged_ttl}"
    );
    cache.put(&lesson, LONG, LONG).await.unwrap();
    let current: String = raw.get(format!("{ns}:c:keys/a")).await.unwrap();
    assert!(current.starts_with("1|"), "new copies carry the new epoch");
}

#[tokio::test]
async fn branches_sharing_one_redis_never_see_each_others_lessons_or_purges() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let repo = unique();
    let main = RedisLessonCache::new(client(&url), &repo, "main");
    let draft = RedisLessonCache::new(client(&url), &repo, "draft");
    let lesson = copy("shared/name");
    let p = &lesson.lesson.path;
    main.put(&lesson, LONG, LONG).await.unwrap();

    // Act + Assert
    assert_eq!(draft.get(p).await.unwrap(), CacheLookup::Miss);
    draft.put(&lesson, LONG, LONG).await.unwrap();
    draft.invalidate(&[]).await.unwrap();
    assert!(matches!(draft.get(p).await.unwrap(), CacheLookup::Hit(c) if c.stale));
    assert_eq!(main.get(p).await.unwrap(), CacheLookup::Hit(lesson.clone()));
}

#[tokio::test]
async fn the_cache_loads_its_scripts_again_after_redis_forgot_them() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange
    let raw = client(&url);
    let cache = RedisLessonCache::new(raw.clone(), &unique(), "main");
    let lesson = copy("scripts/flushed");
    cache.put(&lesson, LONG, LONG).await.unwrap();
    // Every script is loaded once before Redis forgets them.
    cache.get(&lesson.lesson.path).await.unwrap();
    cache
        .put_missing(&path("scripts/other"), LONG)
        .await
        .unwrap();
    cache.invalidate(&[path("scripts/other")]).await.unwrap();

    // Act: what a Redis restart does to loaded scripts.
    raw.script_flush(false).await.unwrap();

    // Assert
    assert_eq!(
        cache.get(&lesson.lesson.path).await.unwrap(),
        CacheLookup::Hit(lesson.clone())
    );
    cache
        .put_missing(&path("scripts/other"), LONG)
        .await
        .unwrap();
    assert_eq!(cache.invalidate(&[path("scripts/other")]).await.unwrap(), 1);
    cache.put(&lesson, LONG, LONG).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_redis_makes_every_call_unavailable_without_hanging_or_leaking_the_url() {
    // Arrange: a local port that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port();
    let cache = RedisLessonCache::new(
        client(&format!("redis://:hunter2@127.0.0.1:{port}")),
        "repo",
        "main",
    );
    let (lesson, p) = (copy("down/a"), path("down/a"));

    // Act
    let outcomes = tokio::time::timeout(PATIENCE, async {
        let (get, put, missing, some, all) = tokio::join!(
            cache.get(&p),
            cache.put(&lesson, LONG, LONG),
            cache.put_missing(&p, LONG),
            cache.invalidate(std::slice::from_ref(&p)),
            cache.invalidate(&[]),
        );
        [get.map(drop), put, missing, some.map(drop), all.map(drop)]
    })
    .await
    .expect("an unreachable Redis must not hang the cache");

    // Assert
    for outcome in outcomes {
        let Err(CacheError::Unavailable(message)) = outcome else {
            panic!("expected Unavailable, got {outcome:?}");
        };
        assert!(
            !message.contains("hunter2") && !message.contains(&port.to_string()),
            "no address or secret in {message:?}"
        );
    }
}
