//! Outbound adapter: the shared Redis client (fred) used by the cache, limiter and locks.
//!
//! Redis is optional: the client connects in the background and reconnects by itself, so a
//! Redis that is down at start or goes away later degrades the service instead of stopping it.
//! Its [`RedisHealth`] remembers an outage, so adapters fail fast until a probe sees Redis back.

mod health;
mod script;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use fred::prelude::{Builder, Client, ClientLike, Config as FredConfig, ReconnectPolicy};
use secrecy::ExposeSecret;

use crate::config::RedisConfig;
use crate::domain::ports::Pingable;

pub use health::{RedisFailure, RedisHealth, guarded};
pub use script::Script;

/// Upper bound on any single Redis command, so a stalled Redis cannot stall a request.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A connected (or reconnecting) Redis client, cheap to clone.
#[derive(Clone)]
pub struct RedisClient {
    client: Client,
    health: RedisHealth,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient").finish_non_exhaustive()
    }
}

impl RedisClient {
    /// Builds the client and starts connecting in the background.
    ///
    /// # Errors
    /// Only when the URL is invalid; an unreachable server is not an error here.
    pub fn connect(cfg: &RedisConfig) -> anyhow::Result<Self> {
        let mut config =
            FredConfig::from_url(cfg.url.expose_secret()).context("parse REDIS_URL")?;
        if config.password.is_none() {
            config.password = cfg.password.as_ref().map(|p| p.expose_secret().to_string());
        }
        // Keep retrying the first connection too: Redis may start after us.
        config.fail_fast = false;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = COMMAND_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()
            .context("build Redis client")?;
        drop(client.connect());
        Ok(Self {
            health: RedisHealth::new(client.clone()),
            client,
        })
    }

    /// The underlying client, for adapters built on it.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether Redis is reachable, shared by the adapters built on this client (each takes it
    /// with `with_health`), so one outage is noticed once and not once per request.
    pub fn health(&self) -> &RedisHealth {
        &self.health
    }

    /// Closes the connection (at shutdown).
    pub async fn close(&self) {
        self.health.close();
        let _ = self.client.quit().await;
    }
}

/// Readiness: a real `PING` whatever the remembered state, and its outcome updates it (so a
/// readiness check may end an outage before the background probe does).
#[async_trait]
impl Pingable for RedisClient {
    async fn ping(&self) -> Result<(), String> {
        match self.health.ping(COMMAND_TIMEOUT).await {
            Ok(()) => Ok(()),
            Err(RedisFailure::Down | RedisFailure::Disconnected) => {
                Err("redis disconnected".to_string())
            }
            Err(RedisFailure::TimedOut) => Err("redis timed out".to_string()),
            Err(e @ RedisFailure::Error(_)) => Err(format!("redis error: {e}")),
        }
    }
}

/// Upper bound on one cache-like Redis call (lesson copies, webhook deliveries), a script
/// reload included: a slow cache is worse than none, and a webhook waits for it.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Awaits a Redis call within [`OP_TIMEOUT`], through `health` when given (failing fast while
/// Redis is known to be down); failures say which operation and what kind of error, never the
/// address or credentials.
pub(crate) async fn bounded<R>(
    health: Option<&RedisHealth>,
    component: &'static str,
    op: &str,
    call: impl std::future::Future<Output = Result<R, fred::prelude::Error>>,
) -> Result<R, crate::domain::ports::CacheError> {
    guarded(health, component, OP_TIMEOUT, call)
        .await
        .map_err(|e| crate::domain::ports::CacheError::Unavailable(format!("redis {op}: {e}")))
}

/// Milliseconds for `PX`: at least 1 (Redis refuses 0), and far from overflowing its clock.
pub(crate) fn px(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .clamp(1, i64::MAX / 4)
}

/// The hash tag of one book's keys, `repo@branch`: braces inside the names would break it.
pub(crate) fn book_tag(repo: &str, branch: &str) -> String {
    format!("{repo}@{branch}").replace(['{', '}'], "_")
}
