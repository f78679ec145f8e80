//! Composition root: the only file that knows every adapter. Builds them from [`Config`],
//! plugs them into the use cases and the HTTP layer, and runs the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::adapters::rate_limit_memory::MemoryRateLimiter;
use crate::adapters::rate_limit_redis::RedisRateLimiter;
use crate::adapters::redis::RedisClient;
use crate::adapters::sql::api_keys::SqlApiKeyStore;
use crate::adapters::sql::book::SqlBookStore;
use crate::adapters::sql::thread_store::SqlThreadStore;
use crate::adapters::sql::turn_lease::SqlTurnLease;
use crate::adapters::sql::user_data::SqlUserDataStore;
use crate::adapters::sql::{Database, migrations};
use crate::adapters::token_ledger_memory::MemoryTokenLedger;
use crate::adapters::token_ledger_redis::RedisTokenLedger;
use crate::adapters::tutor_offline::OfflineTutor;
use crate::adapters::tutor_openai::{ModelMetrics, OpenAiSettings, OpenAiTutor};
use crate::app::account::AccountService;
use crate::app::budget::BudgetService;
use crate::app::learning::LearningService;
use crate::app::quota::QuotaService;
use crate::app::readiness::{Dependency, Readiness};
use crate::app::study::{Drained, StudyService, StudySettings};
use crate::config::Config;
use crate::domain::ports::ApiKeyStore;
use crate::domain::ports::{RateLimiter, TokenLedger, TutorModel};
use crate::http::listener::NoDelayAcceptor;
use crate::http::metrics::{Metrics, PoolSample};
use crate::http::{self, AppState};

mod auth;
mod identity;
mod leases;
mod lessons;
pub mod sync;
mod threads;
mod tutoring;
pub mod worker;

use auth::authenticator;
use leases::turn_lock;
pub use lessons::lesson_service;

/// A built service, bound to its port and ready to run.
pub struct Application {
    acceptor: NoDelayAcceptor,
    addr: SocketAddr,
    state: AppState,
    db: Database,
    redis: Option<RedisClient>,
    leases: SqlTurnLease,
    sync: sync::SyncParts,
}

/// How long shutdown waits for turn lock releases still under way (retrying while the
/// database was unreachable) before it frees this process's leases in one statement.
const LEASE_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Application {
    /// Connects the dependencies, applies migrations (when `AUTO_MIGRATE`; else waits for them)
    /// and binds the port.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated, or the address cannot be bound.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        install_tls_provider();
        let config = Arc::new(config);
        let db = Database::connect(&config.database)
            .await
            .with_context(|| format!("open the database at {}", config.database.redacted_url()))?;
        migrations::prepare(&db, config.database.auto_migrate)
            .await
            .context("bring the database schema to this release")?;
        let redis = config
            .redis
            .as_ref()
            .map(RedisClient::connect)
            .transpose()?;

        let metrics = Arc::new(Metrics::new());
        if let Some(redis) = &redis {
            redis.health().register(metrics.registry());
        }
        metrics.set_pool_probe(pool_probe(&db));

        let mut deps = vec![Dependency {
            name: "database",
            required: true,
            probe: Arc::new(db.clone()),
        }];
        if let Some(redis) = &redis {
            deps.push(Dependency {
                name: "redis",
                required: false,
                probe: Arc::new(redis.clone()),
            });
        }
        // Bound before the turn lock is built: the default replica id names the real port.
        let acceptor = NoDelayAcceptor::bind(&config.host, config.port, config.reuse_port)
            .await
            .with_context(|| format!("bind {}:{}", config.host, config.port))?;
        let addr = acceptor
            .socket_addr()
            .context("listener has a socket address")?;
        let leases = turn_lock(&config, &db, addr.port(), &metrics).await;
        let lessons = lesson_service(&config, redis.as_ref(), &metrics).await?;
        let sync =
            sync::sync_parts(&config, &db, redis.as_ref(), lessons.clone(), &metrics).await?;
        sync.queue.sample_depth(metrics.registry());
        let sql_threads = Arc::new(SqlThreadStore::new(db.clone()));
        let (threads, user_data) = threads::stores(
            &config,
            redis.as_ref(),
            sql_threads.clone(),
            Arc::new(SqlUserDataStore::new(db.clone())),
        );
        let study = Arc::new(
            StudyService::new(
                threads.clone(),
                lessons.clone(),
                tutor_model(&config, &metrics)?,
                Arc::new(leases.clone()),
                StudySettings {
                    turn_timeout: config.tutor.timeout,
                    max_output_tokens: config.tutor.max_output_tokens,
                    max_threads_per_user: config.storage_limits.max_threads_per_user,
                    max_items_per_thread: config.storage_limits.max_items_per_thread,
                    ..StudySettings::default()
                },
            )
            .with_book_graph(Arc::new(SqlBookStore::new(db.clone())))
            .with_search(sync.search.clone())
            .with_budget(budget_service(&config, redis.as_ref(), &metrics))
            .with_metrics(tutoring::metrics(&config, &metrics)),
        );
        let quotas = quota_service(&config, redis.as_ref(), &metrics);
        let keys: Arc<dyn ApiKeyStore> = Arc::new(SqlApiKeyStore::new(db.clone()));
        let own = identity::identity(&config, &db, &metrics)?;
        let authenticator = authenticator(
            &config,
            Some(keys),
            own.as_ref().map(|(_, local)| local.clone()),
            &metrics,
        )?;
        let identity = own.map(|(service, _)| service);
        let account = Arc::new(AccountService::new(user_data, identity.clone()));
        let state = AppState {
            readiness: Readiness::new(deps),
            metrics,
            config: config.clone(),
            study,
            lessons,
            quotas,
            authenticator,
            identity,
            account,
            sync: sync.service.clone(),
            learning: Arc::new(LearningService::new(sql_threads)),
            search: sync.search.clone(),
        };
        Ok(Self {
            acceptor,
            addr,
            state,
            db,
            redis,
            leases,
            sync,
        })
    }

    /// The bound address (tests bind port 0 and read the real one here).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The daily token budgets turns are checked against (tests move its clock).
    pub fn budget(&self) -> Option<Arc<BudgetService>> {
        self.state.study.budget().cloned()
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests for up to
    /// `SHUTDOWN_GRACE_SECS` and closes the pools.
    ///
    /// # Errors
    /// When the server fails to accept connections.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.state.config.shutdown_grace;
        tracing::info!(
            addr = %self.addr,
            env = ?self.state.config.app_env,
            database = ?self.db.engine(),
            redis = self.redis.is_some(),
            "study-mode-api listening"
        );
        let edge = self.state.config.http.clone();
        let connections = self.state.metrics.connections();
        let study = self.state.study.clone();
        let turns = move |grace_ends| async move {
            match study.shutdown(grace_ends).await {
                Drained::Finished => tracing::info!("every tutoring turn finished"),
                Drained::Stopped => {
                    tracing::info!("unfinished tutoring turns stored as interrupted")
                }
                Drained::Abandoned(left) => {
                    tracing::error!(
                        left,
                        "some tutoring turns could not store their answers in time"
                    );
                }
            }
        };
        let worker = self.state.config.jobs.in_process.then(|| {
            crate::adapters::jobs::start_worker(
                &self.sync.queue,
                self.sync.service.clone(),
                sync::worker_settings(&self.state.config, sync::worker_name("serve")),
            )
        });
        if self.state.config.jobs.sync_on_start {
            let sync = self.sync.service.clone();
            tokio::spawn(async move {
                match sync.sync_if_empty("startup").await {
                    Ok(Some(run)) => {
                        tracing::info!(%run, "the book's index is empty: syncing the book")
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, "could not start the first sync of the book")
                    }
                }
            });
        }
        let schedule = self
            .state
            .config
            .jobs
            .sync_interval
            .map(|every| tokio::spawn(sync::scheduled_syncs(self.sync.service.clone(), every)));
        let app = http::app(self.state);
        let result = http::server::serve(
            self.acceptor,
            app,
            edge,
            connections,
            shutdown,
            grace,
            turns,
        )
        .await;
        // Before the pool closes: releases still retrying, and leases of turns still running
        // in this process, are freed for the replicas that stay.
        self.leases.shutdown(LEASE_DRAIN_TIMEOUT).await;
        if let Some(schedule) = schedule {
            schedule.abort();
        }
        if let Some(worker) = worker {
            worker.stop().await;
        }
        self.db.close().await;
        if let Some(redis) = &self.redis {
            redis.close().await;
        }
        tracing::info!("study-mode-api stopped");
        result
    }
}

/// Samples `db`'s pool for `db_pool_*` at scrape time.
fn pool_probe(db: &Database) -> impl Fn() -> PoolSample + Send + Sync + 'static {
    let db = db.clone();
    move || {
        let s = db.pool_stats();
        let in_use = i64::from(s.size.saturating_sub(s.idle));
        PoolSample {
            in_use,
            idle: i64::from(s.idle),
            waiting: (s.operations - in_use).max(0),
            max: i64::from(s.max),
            saturated: s.saturated,
            acquire_timeouts: s.acquire_timeouts,
        }
    }
}

/// Quotas: Redis shared by every replica when configured, with the in-process limiter as the
/// floor while Redis fails; else in process only.
fn quota_service(
    config: &Config,
    redis: Option<&RedisClient>,
    metrics: &Metrics,
) -> Arc<QuotaService> {
    // At most 8 million stored timestamps (about 64 MB): thousands of students at their full
    // default quotas, far more at ordinary use.
    let local: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(8_000_000));
    let shared = redis.map(|r| {
        Arc::new(
            RedisRateLimiter::new(
                r.client().clone(),
                // v2: sliding-log lists; v1 keys held GCRA numbers, which list commands refuse.
                "rl:v2:",
                config.rate_limits.redis_timeout,
            )
            .with_health(r.health().clone()),
        ) as Arc<dyn RateLimiter>
    });
    Arc::new(QuotaService::new(
        shared,
        local,
        config.rate_limits.clone(),
        Some(metrics.registry()),
    ))
}

/// Daily token budgets: counted in Redis, shared by every replica, when configured, with the
/// in-process ledger as the floor while Redis fails; else in process only.
fn budget_service(
    config: &Config,
    redis: Option<&RedisClient>,
    metrics: &Metrics,
) -> Arc<BudgetService> {
    // One counter per student and day (about 100 bytes each): a million students a day.
    let local: Arc<dyn TokenLedger> = Arc::new(MemoryTokenLedger::new(1_000_000));
    let shared = redis.map(|r| {
        Arc::new(
            RedisTokenLedger::new(
                r.client().clone(),
                "tb:v1:",
                config.rate_limits.redis_timeout,
            )
            .with_health(r.health().clone()),
        ) as Arc<dyn TokenLedger>
    });
    Arc::new(BudgetService::new(
        shared,
        local,
        config.rate_limits.token_budgets,
        Some(metrics.registry()),
    ))
}

/// Installs ring as the process-wide rustls provider (reqwest is built without one, which keeps
/// the aws-lc C build out). Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn tutor_model(config: &Config, metrics: &Metrics) -> anyhow::Result<Arc<dyn TutorModel>> {
    let tutor = &config.tutor;
    // Registered with every tutor, at zero with the offline one: the dashboard's model panels
    // read "0 requests", not "no data".
    let model_metrics = ModelMetrics::new(Some(metrics.registry()));
    let Some(key) = &tutor.openai_api_key else {
        tracing::info!(
            "tutor: offline (OPENAI_API_KEY is not set); it teaches from the lesson text"
        );
        return Ok(Arc::new(OfflineTutor::new()));
    };
    tracing::info!(base_url = %tutor.openai_base_url, teach = %tutor.model_teach, ask = %tutor.model_ask, "tutor: OpenAI-compatible model");
    let model = OpenAiTutor::new(OpenAiSettings {
        base_url: tutor.openai_base_url.clone(),
        api_key: key.clone(),
        model_teach: tutor.model_teach.clone(),
        model_ask: tutor.model_ask.clone(),
        timeout: tutor.timeout,
        max_output_tokens: tutor.max_output_tokens,
        max_retries: 3,
        http_version: tutor.http_version,
        streams_per_connection: tutor.streams_per_connection,
    })?
    .with_metrics(model_metrics);
    Ok(Arc::new(model))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (container stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            futures::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
