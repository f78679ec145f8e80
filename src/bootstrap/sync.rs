//! The book sync's parts: queue, catalog, stores, progress tracker, embeddings model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::adapters::embeddings_openai::{EmbeddingsSettings, OpenAiEmbedder};
use crate::adapters::jobs::{ApalisQueue, QueueSettings, WorkerSettings};
use crate::adapters::lessons_github::catalog::{CatalogSettings, GithubCatalog};
use crate::adapters::lessons_local::LocalLessonSource;
use crate::adapters::progress_memory::MemoryProgressTracker;
use crate::adapters::progress_redis::{ProgressSettings, RedisProgressTracker};
use crate::adapters::redis::RedisClient;
use crate::adapters::sql::Database;
use crate::adapters::sql::book::SqlBookStore;
use crate::adapters::sql::sync_runs::SqlSyncRunStore;
use crate::app::lessons::LessonService;
use crate::app::sync::{SyncDeps, SyncService};
use crate::config::Config;
use crate::domain::ports::{Embedder, LessonCatalog, ProgressTracker};

/// Most lessons' progress kept by the in-process tracker.
const MEMORY_PROGRESS_CAPACITY: u64 = 100_000;
/// How long one listing of the book may take.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(30);

/// The sync and the queue it runs on.
#[derive(Clone)]
pub struct SyncParts {
    /// The use cases (also the workers' task handler).
    pub service: Arc<SyncService>,
    /// The queue.
    pub queue: ApalisQueue,
    /// The embeddings model, for a worker's warm-up.
    pub embedder: Option<Arc<OpenAiEmbedder>>,
}

/// Opens the queue (creating its tables) and builds the sync over `lessons`.
///
/// # Errors
/// When the queue's database cannot be opened or a setting cannot be used.
pub async fn sync_parts(
    config: &Config,
    db: &Database,
    redis: Option<&RedisClient>,
    lessons: Arc<LessonService>,
) -> anyhow::Result<SyncParts> {
    let jobs = &config.jobs;
    let queue = ApalisQueue::open(
        config.database.url.expose_secret(),
        QueueSettings {
            max_attempts: jobs.max_attempts,
            heartbeat: jobs.heartbeat,
            missed_heartbeats: jobs.missed_heartbeats,
            poll_interval: jobs.poll_interval,
        },
    )
    .await
    .context("open the job queue")?;
    let embedder = embedder(config)?;
    let service = Arc::new(SyncService::new(SyncDeps {
        catalog: Some(catalog(config)?),
        lessons,
        book: Arc::new(SqlBookStore::new(db.clone())),
        runs: Arc::new(SqlSyncRunStore::new(db.clone())),
        queue: Arc::new(queue.clone()),
        progress: progress(config, redis),
        embedder: embedder.clone().map(|e| e as Arc<dyn Embedder>),
        retention: config.jobs.retention,
    }));
    Ok(SyncParts {
        service,
        queue,
        embedder,
    })
}

/// How this process's worker consumes the queue.
pub fn worker_settings(config: &Config, name: String) -> WorkerSettings {
    let jobs = &config.jobs;
    WorkerSettings {
        name,
        concurrency: jobs.concurrency,
        try_timeout: jobs.try_timeout,
        backoff: (jobs.backoff_min, jobs.backoff_max),
        grace: config.shutdown_grace,
    }
}

/// A worker name unique among live workers: host, process id and a start time.
pub fn worker_name(role: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(40)
        .collect();
    let started = chrono::Utc::now().timestamp_millis();
    format!("{host}-{}-{role}-{started}", std::process::id())
}

fn catalog(config: &Config) -> anyhow::Result<Arc<dyn LessonCatalog>> {
    let lessons = &config.lessons;
    if let Some(dir) = &lessons.dir {
        return Ok(Arc::new(LocalLessonSource::new(dir)));
    }
    Ok(Arc::new(GithubCatalog::new(
        CatalogSettings {
            api_base_url: config.jobs.github_api_base_url.clone(),
            repo: lessons.github_repo.clone(),
            branch: lessons.github_branch.clone(),
            docs_prefix: lessons.docs_prefix.clone(),
            token: lessons.github_token.clone(),
        },
        CATALOG_TIMEOUT,
    )?))
}

fn progress(config: &Config, redis: Option<&RedisClient>) -> Arc<dyn ProgressTracker> {
    match redis {
        Some(redis) => Arc::new(
            RedisProgressTracker::new(
                redis.client().clone(),
                ProgressSettings {
                    ttl: config.jobs.progress_ttl,
                    ..ProgressSettings::default()
                },
            )
            .with_health(redis.health().clone()),
        ),
        None => Arc::new(MemoryProgressTracker::new(
            MEMORY_PROGRESS_CAPACITY,
            config.jobs.progress_ttl,
        )),
    }
}

fn embedder(config: &Config) -> anyhow::Result<Option<Arc<OpenAiEmbedder>>> {
    let Some(model) = &config.jobs.embeddings_model else {
        tracing::info!("book sync: no EMBEDDINGS_MODEL; sections get the full-text index only");
        return Ok(None);
    };
    let embedder = OpenAiEmbedder::new(EmbeddingsSettings {
        base_url: config.tutor.openai_base_url.clone(),
        api_key: config.tutor.openai_api_key.clone(),
        model: model.clone(),
        allow_http: config.plaintext_allowed("OPENAI_BASE_URL"),
    })?;
    Ok(Some(Arc::new(embedder)))
}

/// Resident memory of this process in MiB (Linux; `None` elsewhere).
pub fn rss_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / 1_048_576.0)
}

/// Runs one start-up step, logging its duration and the process RSS after it; retries a
/// failed step with exponential backoff (0.5 s doubling to 30 s) up to `tries` times.
///
/// # Errors
/// The last failure when every try failed.
pub async fn step<T, F, Fut>(name: &str, tries: u32, mut run: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut wait = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let started = Instant::now();
        match run().await {
            Ok(value) => {
                tracing::info!(
                    step = name,
                    ms = started.elapsed().as_millis() as u64,
                    rss_mib = rss_mib().map(|m| (m * 10.0).round() / 10.0),
                    "worker start-up step done"
                );
                return Ok(value);
            }
            Err(error) if attempt < tries => {
                tracing::warn!(
                    step = name,
                    attempt,
                    retry_in_ms = wait.as_millis() as u64,
                    error = format!("{error:#}"),
                    "worker start-up step failed; retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
                attempt += 1;
            }
            Err(error) => return Err(error.context(format!("start-up step {name}"))),
        }
    }
}

/// Starts a sync of the whole book every `every` (`SYNC_INTERVAL_SECS`), the first one
/// `every` after start-up.
pub async fn scheduled_syncs(sync: Arc<crate::app::sync::SyncService>, every: std::time::Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        if let Err(error) = sync
            .start(crate::domain::sync::SyncScope::Book, "schedule")
            .await
        {
            tracing::warn!(%error, "scheduled book sync could not start");
        }
    }
}
