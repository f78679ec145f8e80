//! What only the Redis tracker promises: its key layout and TTL, and degrading while Redis is
//! unreachable.

use std::time::{Duration, Instant};

use fred::prelude::{HashesInterface, KeysInterface};
use study_mode_api::adapters::progress_redis::RedisProgressTracker;
use study_mode_api::domain::ports::ProgressTracker;
use study_mode_api::domain::progress::{ResourceProgress, Stage, StageStatus};

use super::{LONG, PATIENCE, redis_client, settings};
use crate::helpers::{target_of, test_redis_url, via};
use crate::proxy::TcpProxy;

#[tokio::test]
async fn redis_keeps_one_hash_per_resource_with_a_field_per_stage_and_a_ttl() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    let client = redis_client(&url).await;
    let settings = settings(Duration::from_secs(90));
    let prefix = settings.prefix.clone();
    let tracker = RedisProgressTracker::new(client.client().clone(), settings);

    tracker
        .set_progress(
            "lessons/a",
            Stage::Quality,
            StageStatus::Failed,
            Some("x|y"),
        )
        .await;
    tracker
        .set_progress("lessons/a", Stage::Graph, StageStatus::Completed, None)
        .await;

    let key = format!("{prefix}lessons/a");
    assert_eq!(tracker.redis_key("lessons/a"), key);
    let fields: std::collections::HashMap<String, String> =
        client.client().hgetall(&key).await.unwrap();
    let mut names: Vec<_> = fields.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["graph", "quality"]);
    let (status, rest) = fields["quality"].split_once('|').unwrap();
    let (ms, error) = rest.split_once('|').unwrap();
    assert_eq!((status, error), ("FAILED", "x|y"));
    assert!(
        ms.parse::<i64>().unwrap() > 1_700_000_000_000,
        "unix ms: {ms}"
    );
    let ttl: i64 = client.client().pttl(&key).await.unwrap();
    assert!((1..=90_000).contains(&ttl), "every record expires: {ttl}");
}

#[tokio::test]
async fn while_redis_is_cut_progress_degrades_to_defaults_and_works_again_once_back() {
    let Some(url) = test_redis_url().await else {
        return;
    };
    // Arrange: the tracker reaches Redis through a proxy.
    let proxy = TcpProxy::start(target_of(&url)).await;
    let client = redis_client(&via(&url, proxy.addr)).await;
    let tracker = RedisProgressTracker::new(client.client().clone(), settings(LONG))
        .with_health(client.health().clone());
    let r = "lessons/outage";
    tracker
        .set_progress(r, Stage::Ingestion, StageStatus::Completed, None)
        .await;
    assert_eq!(
        tracker.get_progress(r).await.stage(Stage::Ingestion).status,
        StageStatus::Completed
    );

    // Act: Redis becomes unreachable.
    proxy.cut();
    let during = tokio::time::timeout(PATIENCE, async {
        for _ in 0..20 {
            tracker
                .set_progress(r, Stage::Quality, StageStatus::Processing, None)
                .await;
        }
        (
            tracker.get_progress(r).await,
            tracker.get_many(&[r.to_string()]).await,
        )
    })
    .await
    .expect("progress calls do not hang while Redis is cut");

    // Assert: writes were dropped without failing, reads answer the default state.
    assert_eq!(during.0, ResourceProgress::pending(r));
    assert_eq!(during.1, [ResourceProgress::pending(r)]);

    // Redis is back: what was stored before is there, and writes land again.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tracker
            .set_progress(r, Stage::Taxonomy, StageStatus::Completed, None)
            .await;
        let progress = tracker.get_progress(r).await;
        if progress.stage(Stage::Taxonomy).status == StageStatus::Completed {
            assert_eq!(
                progress.stage(Stage::Ingestion).status,
                StageStatus::Completed
            );
            break;
        }
        assert!(Instant::now() < deadline, "progress never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
