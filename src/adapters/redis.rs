//! Outbound adapter: the shared Redis client (fred) used by the cache, limiter and locks.
//!
//! Redis is optional: the client connects in the background and reconnects by itself, so a
//! Redis that is down at start or goes away later degrades the service instead of stopping it.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use fred::prelude::{Builder, Client, ClientLike, Config as FredConfig, ReconnectPolicy};
use secrecy::ExposeSecret;

use crate::config::RedisConfig;
use crate::domain::ports::Pingable;

/// Upper bound on any single Redis command, so a stalled Redis cannot stall a request.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A connected (or reconnecting) Redis client, cheap to clone.
#[derive(Clone)]
pub struct RedisClient {
    client: Client,
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
        Ok(Self { client })
    }

    /// The underlying client, for adapters built on it.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the connection (at shutdown).
    pub async fn close(&self) {
        let _ = self.client.quit().await;
    }
}

#[async_trait]
impl Pingable for RedisClient {
    async fn ping(&self) -> Result<(), String> {
        match tokio::time::timeout(COMMAND_TIMEOUT, self.client.ping::<String>(None)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("redis error: {:?}", e.kind())),
            Err(_) => Err("redis timed out".to_string()),
        }
    }
}

/// Upper bound on one cache-like Redis call (lesson copies, webhook deliveries), a script
/// reload included: a slow cache is worse than none, and a webhook waits for it.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Awaits a Redis call within [`OP_TIMEOUT`]; failures say which operation and what kind of
/// error, never the address or credentials.
pub(crate) async fn bounded<R>(
    op: &str,
    call: impl std::future::Future<Output = Result<R, fred::prelude::Error>>,
) -> Result<R, crate::domain::ports::CacheError> {
    use crate::domain::ports::CacheError;
    match tokio::time::timeout(OP_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(CacheError::Unavailable(format!(
            "redis {op}: {:?}",
            e.kind()
        ))),
        Err(_) => Err(CacheError::Unavailable(format!("redis {op}: timed out"))),
    }
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
