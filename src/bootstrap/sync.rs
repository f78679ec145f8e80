//! The book sync's parts: queue, catalog, stores, progress tracker, embeddings model.

use std::sync::Arc;
use std::time::Duration;

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
use crate::app::search::SearchService;
use crate::app::sync::{JobMetrics, SyncDeps, SyncService};
use crate::config::Config;
use crate::domain::ports::{BookStore, Embedder, LessonCatalog, ProgressTracker};
use crate::http::metrics::Metrics;

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
    /// Search over the same book store and embeddings model.
    pub search: Arc<SearchService>,
}

/// Opens the queue (creating its tables) and builds the sync over `lessons`, counting task
/// outcomes on `metrics`.
///
/// # Errors
/// When the queue's database cannot be opened or a setting cannot be used.
pub async fn sync_parts(
    config: &Config,
    db: &Database,
    redis: Option<&RedisClient>,
    lessons: Arc<LessonService>,
    metrics: &Metrics,
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
    let book: Arc<dyn BookStore> = Arc::new(SqlBookStore::new(db.clone()));
    let search = Arc::new(SearchService::new(
        book.clone(),
        embedder.clone().map(|e| e as Arc<dyn Embedder>),
    ));
    let service = Arc::new(
        SyncService::new(SyncDeps {
            catalog: Some(catalog(config)?),
            lessons,
            book,
            runs: Arc::new(SqlSyncRunStore::new(db.clone())),
            queue: Arc::new(queue.clone()),
            progress: progress(config, redis),
            embedder: embedder.clone().map(|e| e as Arc<dyn Embedder>),
            retention: config.jobs.retention,
        })
        .with_metrics(JobMetrics::new(Some(metrics.registry()))),
    );
    Ok(SyncParts {
        service,
        queue,
        embedder,
        search,
    })
}

/// The sync with what it stands on, opened outside `serve` (the command line, the benchmark):
/// the database (migrated), Redis when configured, the lessons and the sync's parts.
pub struct Standalone {
    /// The database.
    pub db: Database,
    /// Redis, when configured.
    pub redis: Option<RedisClient>,
    /// The sync and its queue.
    pub parts: SyncParts,
}

impl Standalone {
    /// Opens everything `config` names and applies pending migrations.
    ///
    /// # Errors
    /// When the database, Redis's settings or the queue cannot be used.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        super::install_tls_provider();
        let db = Database::connect(&config.database).await?;
        crate::adapters::sql::migrations::run(&db).await?;
        let redis = config
            .redis
            .as_ref()
            .map(RedisClient::connect)
            .transpose()?;
        let metrics = Metrics::new();
        let lessons = super::lesson_service(config, redis.as_ref(), &metrics).await?;
        let parts = sync_parts(config, &db, redis.as_ref(), lessons, &metrics).await?;
        Ok(Self { db, redis, parts })
    }

    /// Stops `worker` (when one ran here), then closes the pools.
    pub async fn close(self, worker: Option<crate::adapters::jobs::WorkerHandle>) {
        if let Some(worker) = worker {
            worker.stop().await;
        }
        self.db.close().await;
        if let Some(redis) = &self.redis {
            redis.close().await;
        }
    }
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
