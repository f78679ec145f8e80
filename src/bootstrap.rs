//! Composition root: the only file that knows every adapter. Builds them from [`Config`],
//! plugs them into the use cases and the HTTP layer, and runs the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use poem::Server;
use poem::listener::{Acceptor, TcpAcceptor};

use crate::adapters::redis::RedisClient;
use crate::adapters::sql::{Database, migrations};
use crate::app::readiness::{Dependency, Readiness};
use crate::config::Config;
use crate::http::metrics::{Metrics, PoolSample};
use crate::http::{self, AppState};

/// A built service, bound to its port and ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: AppState,
    db: Database,
    redis: Option<RedisClient>,
}

impl Application {
    /// Connects the dependencies, applies migrations (when `AUTO_MIGRATE`) and binds the port.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated, or the address cannot be bound.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let db = Database::connect(&config.database)
            .await
            .with_context(|| format!("open the database at {}", config.database.redacted_url()))?;
        if config.database.auto_migrate {
            migrations::run(&db)
                .await
                .context("apply database migrations")?;
        }
        let redis = config
            .redis
            .as_ref()
            .map(RedisClient::connect)
            .transpose()?;

        let metrics = Arc::new(Metrics::new());
        let probe_db = db.clone();
        metrics.set_pool_probe(move || {
            let s = probe_db.pool_stats();
            let in_use = i64::from(s.size.saturating_sub(s.idle));
            PoolSample {
                in_use,
                idle: i64::from(s.idle),
                waiting: (s.operations - in_use).max(0),
                max: i64::from(s.max),
            }
        });

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
        let state = AppState {
            readiness: Readiness::new(deps),
            metrics,
            config: config.clone(),
        };

        let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("bind {}:{}", config.host, config.port))?;
        let acceptor = TcpAcceptor::from_tokio(listener).context("wrap the listener")?;
        let addr = *acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr())
            .context("listener has a socket address")?;
        Ok(Self {
            acceptor,
            addr,
            state,
            db,
            redis,
        })
    }

    /// The bound address (tests bind port 0 and read the real one here).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
        let app = http::app(self.state);
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(grace))
            .await;
        self.db.close().await;
        if let Some(redis) = &self.redis {
            redis.close().await;
        }
        tracing::info!("study-mode-api stopped");
        result
    }
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
