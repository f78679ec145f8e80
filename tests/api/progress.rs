//! The ProgressTracker contract, run against the in-process tracker and the Redis tracker (what
//! only the Redis tracker promises is in `redis_only`). Every Redis test uses a key
//! prefix of its own, so tests never see each other; nothing is ever flushed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::ClientLike;
use study_mode_api::adapters::progress_memory::MemoryProgressTracker;
use study_mode_api::adapters::progress_redis::{ProgressSettings, RedisProgressTracker};
use study_mode_api::adapters::redis::RedisClient;
use study_mode_api::config::RedisConfig;
use study_mode_api::domain::ports::ProgressTracker;
use study_mode_api::domain::progress::{
    MAX_ERROR_CHARS, ResourceProgress, Stage, StageProgress, StageStatus,
};

use crate::helpers::test_redis_url;

mod redis_only;

/// Loose bound for "happens" / "does not hang"; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);
const LONG: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug)]
enum Backend {
    Memory,
    Redis,
}

/// A connected Redis client (through `url`), with its shared health.
async fn redis_client(url: &str) -> RedisClient {
    let config = RedisConfig {
        url: url.to_string().into(),
        password: None,
    };
    let client = RedisClient::connect(&config).expect("valid Redis URL");
    tokio::time::timeout(PATIENCE, client.client().wait_for_connect())
        .await
        .expect("Redis connects in time")
        .expect("Redis connects");
    client
}

fn settings(ttl: Duration) -> ProgressSettings {
    ProgressSettings {
        prefix: format!("progress-test:{}:", uuid::Uuid::new_v4().simple()),
        ttl,
        call_timeout: Duration::from_secs(1),
    }
}

/// A fresh tracker whose records live `ttl`; `None` when the Redis tests are not configured.
async fn tracker(backend: Backend, ttl: Duration) -> Option<Arc<dyn ProgressTracker>> {
    Some(match backend {
        Backend::Memory => Arc::new(MemoryProgressTracker::new(1_000, ttl)),
        Backend::Redis => {
            let client = redis_client(&test_redis_url().await?).await;
            Arc::new(
                RedisProgressTracker::new(client.client().clone(), settings(ttl))
                    .with_health(client.health().clone()),
            )
        }
    })
}

/// Each contract function runs once per backend: `memory::<name>` and `redis::<name>`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Memory).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Redis).await;
            })*
        }
    };
}

contract!(
    a_resource_never_seen_reports_every_stage_pending,
    stage_updates_are_kept_per_stage_and_drive_the_overall_status,
    a_failed_stage_keeps_its_error_bounded_and_a_later_status_clears_it,
    concurrent_updates_of_different_stages_of_one_resource_all_land,
    many_resources_are_read_in_order_with_defaults_for_unknown_and_invalid_ids,
    invalid_resource_ids_are_not_stored,
    a_record_expires_after_the_ttl,
);

fn statuses(progress: &ResourceProgress) -> Vec<StageStatus> {
    progress.stages().values().map(|s| s.status).collect()
}

async fn a_resource_never_seen_reports_every_stage_pending(backend: Backend) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };

    let progress = tracker.get_progress("lessons/never-seen").await;

    assert_eq!(progress, ResourceProgress::pending("lessons/never-seen"));
    assert_eq!(progress.overall(), StageStatus::Pending);
    assert_eq!(progress.stages().len(), Stage::ALL.len());
    assert!(
        progress
            .stages()
            .values()
            .all(|s| *s == StageProgress::default())
    );
}

async fn stage_updates_are_kept_per_stage_and_drive_the_overall_status(backend: Backend) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };
    let r = "01-Foundations/02-agents/01-what-is-an-agent";
    let set = |stage, status| tracker.set_progress(r, stage, status, None);

    set(Stage::Ingestion, StageStatus::Processing).await;
    let first = tracker.get_progress(r).await;
    assert_eq!(first.overall(), StageStatus::Processing);
    assert_eq!(
        first.stage(Stage::Ingestion).status,
        StageStatus::Processing
    );
    assert!(first.stage(Stage::Ingestion).updated_at.is_some());
    assert_eq!(first.stage(Stage::Quality), &StageProgress::default());

    set(Stage::Ingestion, StageStatus::Completed).await;
    let done_one = tracker.get_progress(r).await;
    assert_eq!(
        done_one.overall(),
        StageStatus::Processing,
        "done and waiting"
    );
    assert!(done_one.updated_at() >= first.updated_at());

    for stage in [Stage::Quality, Stage::Taxonomy, Stage::Graph] {
        set(stage, StageStatus::Completed).await;
    }
    set(Stage::Embedding, StageStatus::Skipped).await;
    let finished = tracker.get_progress(r).await;
    assert_eq!(finished.overall(), StageStatus::Completed);
    assert_eq!(
        statuses(&finished),
        [
            StageStatus::Completed, // ingestion
            StageStatus::Completed, // quality
            StageStatus::Completed, // taxonomy
            StageStatus::Completed, // graph
            StageStatus::Skipped,   // embedding
        ],
        "stages in pipeline order"
    );

    set(Stage::Graph, StageStatus::Failed).await;
    assert_eq!(tracker.get_progress(r).await.overall(), StageStatus::Failed);
    // Other resources are untouched.
    assert_eq!(
        tracker.get_progress("lessons/other").await.overall(),
        StageStatus::Pending
    );
}

async fn a_failed_stage_keeps_its_error_bounded_and_a_later_status_clears_it(backend: Backend) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };
    let r = "lessons/broken";

    tracker
        .set_progress(
            r,
            Stage::Quality,
            StageStatus::Failed,
            Some("front matter:\n line 3 | bad \u{1b}[0m"),
        )
        .await;
    let failed = tracker.get_progress(r).await;
    assert_eq!(failed.overall(), StageStatus::Failed);
    assert_eq!(
        failed.stage(Stage::Quality).error.as_deref(),
        Some("front matter:  line 3 | bad  [0m")
    );

    let huge = "é".repeat(100_000);
    tracker
        .set_progress(r, Stage::Graph, StageStatus::Failed, Some(&huge))
        .await;
    let error = tracker
        .get_progress(r)
        .await
        .stage(Stage::Graph)
        .error
        .clone();
    let error = error.expect("the error is kept");
    assert_eq!(error.chars().count(), MAX_ERROR_CHARS);
    assert!(error.ends_with('…'));

    tracker
        .set_progress(r, Stage::Quality, StageStatus::Completed, None)
        .await;
    let retried = tracker.get_progress(r).await;
    assert_eq!(retried.stage(Stage::Quality).status, StageStatus::Completed);
    assert_eq!(retried.stage(Stage::Quality).error, None);
    assert_eq!(retried.stage(Stage::Graph).status, StageStatus::Failed);
}

async fn concurrent_updates_of_different_stages_of_one_resource_all_land(backend: Backend) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };
    let tasks: Vec<_> = Stage::ALL
        .into_iter()
        .map(|stage| {
            let tracker = tracker.clone();
            tokio::spawn(async move {
                tracker
                    .set_progress("lessons/busy", stage, StageStatus::Completed, None)
                    .await;
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the update task ends");
    }

    let progress = tracker.get_progress("lessons/busy").await;

    assert_eq!(progress.overall(), StageStatus::Completed);
}

async fn many_resources_are_read_in_order_with_defaults_for_unknown_and_invalid_ids(
    backend: Backend,
) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };
    // More than one read batch of the Redis tracker.
    let known: Vec<String> = (0..600).map(|i| format!("lessons/{i:04}")).collect();
    for (i, r) in known.iter().enumerate() {
        let status = if i % 2 == 0 {
            StageStatus::Completed
        } else {
            StageStatus::Failed
        };
        tracker
            .set_progress(r, Stage::Ingestion, status, None)
            .await;
    }
    let mut asked = known.clone();
    asked.insert(3, "lessons/unknown".to_string());
    asked.insert(7, "bad\nid".to_string());
    asked.push(String::new());

    let got = tracker.get_many(&asked).await;

    assert_eq!(got.len(), asked.len());
    for (progress, r) in got.iter().zip(&asked) {
        assert_eq!(progress.resource_id(), r.as_str());
    }
    assert_eq!(got[3], ResourceProgress::pending("lessons/unknown"));
    assert_eq!(got[7], ResourceProgress::pending("bad\nid"));
    assert_eq!(got[0].overall(), StageStatus::Processing);
    assert_eq!(got[1].overall(), StageStatus::Failed);
    assert_eq!(got[601].overall(), StageStatus::Failed, "lessons/0599");
    assert!(tracker.get_many(&[]).await.is_empty());
}

async fn invalid_resource_ids_are_not_stored(backend: Backend) {
    let Some(tracker) = tracker(backend, LONG).await else {
        return;
    };
    let too_long = "a".repeat(301);

    for r in ["", "two\nlines", too_long.as_str()] {
        tracker
            .set_progress(r, Stage::Ingestion, StageStatus::Completed, None)
            .await;
        assert_eq!(tracker.get_progress(r).await, ResourceProgress::pending(r));
    }
    let longest = "a".repeat(300);
    tracker
        .set_progress(&longest, Stage::Ingestion, StageStatus::Completed, None)
        .await;
    assert_eq!(
        tracker.get_progress(&longest).await.overall(),
        StageStatus::Processing
    );
}

async fn a_record_expires_after_the_ttl(backend: Backend) {
    let Some(tracker) = tracker(backend, Duration::from_secs(1)).await else {
        return;
    };
    let r = "lessons/short-lived";
    tracker
        .set_progress(r, Stage::Ingestion, StageStatus::Processing, None)
        .await;

    // Gone once the TTL has passed (waited for, not timed).
    let deadline = Instant::now() + PATIENCE;
    while tracker.get_progress(r).await != ResourceProgress::pending(r) {
        assert!(Instant::now() < deadline, "the record never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A later write starts a new record.
    tracker
        .set_progress(r, Stage::Quality, StageStatus::Completed, None)
        .await;
    let fresh = tracker.get_progress(r).await;
    assert_eq!(fresh.stage(Stage::Ingestion).status, StageStatus::Pending);
    assert_eq!(fresh.stage(Stage::Quality).status, StageStatus::Completed);
}
