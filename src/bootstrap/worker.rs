//! `study-mode-api worker`: a process that only runs book sync tasks. It initialises once what
//! every task needs, logging each step's duration and the process RSS, answers `/health`,
//! `/health/ready` and `/metrics` (its task outcomes, lesson caches and pool) on `WORKER_PORT`,
//! and on SIGTERM stops taking tasks, finishes or hands back
//! the running ones within `SHUTDOWN_GRACE_SECS`, and closes its pools.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Json;
use poem::{EndpointExt, IntoResponse, Route, Server, get, handler, http::StatusCode};

use super::sync::{sync_parts, worker_name, worker_settings};
use crate::adapters::jobs::start_worker;
use crate::adapters::redis::RedisClient;
use crate::adapters::sql::{Database, migrations};
use crate::config::Config;
use crate::domain::ports::TaskHandler;
use crate::http::metrics::Metrics;

/// Tries of each start-up step before the worker gives up.
const STEP_TRIES: u32 = 6;

const STARTING: u8 = 0;
const READY: u8 = 1;
const DRAINING: u8 = 2;

/// Where a worker process stands, for its health endpoints.
#[derive(Clone, Default)]
pub struct WorkerState {
    state: Arc<AtomicU8>,
    /// Whether the queue consumer takes tasks (set once it runs).
    consuming: Arc<std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>>>,
}

impl WorkerState {
    fn set(&self, state: u8) {
        self.state.store(state, Ordering::SeqCst);
    }

    fn name(&self) -> &'static str {
        let paused = self
            .consuming
            .get()
            .is_some_and(|c| !c.load(Ordering::SeqCst));
        match self.state.load(Ordering::SeqCst) {
            READY if paused => "paused",
            READY => "ready",
            DRAINING => "draining",
            STARTING => "starting",
            _ => "unknown",
        }
    }
}

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[handler]
fn ready(state: poem::web::Data<&WorkerState>) -> poem::Response {
    let name = state.name();
    let status = if name == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Json(serde_json::json!({ "status": name }))
        .with_status(status)
        .into_response()
}

/// Binds the worker's health port and serves it (with `metrics` on `/metrics`) in the
/// background; returns the bound address.
///
/// # Errors
/// When the port cannot be bound.
pub async fn health_server(
    host: &str,
    port: u16,
    state: WorkerState,
    metrics: Arc<Metrics>,
) -> anyhow::Result<SocketAddr> {
    let acceptor = TcpListener::bind(format!("{host}:{port}"))
        .into_acceptor()
        .await
        .with_context(|| format!("bind the worker health port {host}:{port}"))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("worker health port has an address")?;
    let app = Route::new()
        .at("/health", get(live))
        .at("/health/ready", get(ready))
        .at("/metrics", get(crate::http::metrics::scrape))
        .data(state)
        .data(metrics);
    tokio::spawn(async move {
        if let Err(error) = Server::new_with_acceptor(acceptor).run(app).await {
            tracing::warn!(%error, "worker health server stopped");
        }
    });
    Ok(addr)
}

/// Runs a worker process until `shutdown` resolves.
///
/// # Errors
/// When start-up fails after its retries.
pub async fn run_worker(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    super::install_tls_provider();
    let started = Instant::now();
    let state = WorkerState::default();
    let metrics = Arc::new(Metrics::new());
    let addr = health_server(
        &config.host,
        config.jobs.worker_port,
        state.clone(),
        metrics.clone(),
    )
    .await?;
    tracing::info!(%addr, rss_mib = rss_mib(), "worker health endpoints up (/health, /health/ready, /metrics)");
    let db = step("database", STEP_TRIES, || async {
        let db = Database::connect(&config.database).await?;
        migrations::prepare(&db, config.database.auto_migrate).await?;
        Ok(db)
    })
    .await?;
    let redis = match &config.redis {
        Some(redis) => Some(
            step("redis client", STEP_TRIES, || async {
                RedisClient::connect(redis)
            })
            .await?,
        ),
        None => None,
    };
    metrics.set_pool_probe(super::pool_probe(&db));
    let lessons = step(
        "lesson source, caches and GitHub client",
        STEP_TRIES,
        || super::lesson_service(&config, redis.as_ref(), &metrics),
    )
    .await?;
    let parts = step("job queue, catalog, progress tracker", STEP_TRIES, || {
        sync_parts(&config, &db, redis.as_ref(), lessons.clone(), &metrics)
    })
    .await?;
    if let Some(embedder) = &parts.embedder {
        step("embeddings model warm-up", STEP_TRIES, || async {
            embedder.warm_up().await.map_err(anyhow::Error::from)
        })
        .await?;
    }
    let handler: Arc<dyn TaskHandler> = parts.service.clone();
    let worker = start_worker(
        &parts.queue,
        handler,
        worker_settings(&config, worker_name("worker")),
    );
    let _ = state.consuming.set(worker.consuming());
    state.set(READY);
    tracing::info!(
        worker = worker.name(),
        concurrency = config.jobs.concurrency,
        ready_ms = started.elapsed().as_millis() as u64,
        rss_mib = rss_mib(),
        "worker ready"
    );
    shutdown.await;
    state.set(DRAINING);
    tracing::info!("worker draining: no new tasks; running ones finish or are handed back");
    worker.stop().await;
    db.close().await;
    if let Some(redis) = &redis {
        redis.close().await;
    }
    tracing::info!("worker stopped");
    Ok(())
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
