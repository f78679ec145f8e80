//! Outbound adapter: RateLimiter on Redis, so every replica counts against the same quota.
//!
//! One Lua script (`sliding_log.lua`, the rules of `domain::sliding_log`) checks and updates
//! every window of a bucket atomically, on the Redis server's clock so replicas with skewed
//! clocks agree. A window's log is a LIST of admitted request times (µs, newest first, at most
//! `limit` of them) at `<prefix>{<key>}:<limit>:<period ms>`: the hash tag keeps all windows of a
//! key on one cluster slot, and each list expires one period after its last consumption, when
//! every entry has left the window anyway. Needs Redis 5 or later (a script that reads `TIME`
//! and then writes).

#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike};

use super::redis::{RedisFailure, RedisHealth, Script, guarded};
use crate::domain::ports::{RateLimitError, RateLimiter};
use crate::domain::rate_limit::{Decision, Window, WindowState};
use crate::domain::sliding_log::{self, Log};

/// The check-and-consume of every window of a key at once.
static SCRIPT: Script = Script::new(include_str!("rate_limit_redis/sliding_log.lua"));

/// [`RateLimiter`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    client: Client,
    prefix: String,
    timeout: Duration,
    health: Option<RedisHealth>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Check,
    Peek,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Peek => "peek",
        }
    }
}

impl RedisRateLimiter {
    /// A limiter whose keys start with `prefix` (e.g. `ratelimit:v1:`); every call, a script
    /// reload included, gives up after `timeout`.
    pub fn new(client: Client, prefix: &str, timeout: Duration) -> Self {
        Self {
            client,
            prefix: prefix.to_string(),
            timeout,
            health: None,
        }
    }

    /// Fails fast while `health` says Redis is down, and reports timeouts and connection
    /// errors to it (without it, every check waits out the timeout while Redis stalls).
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// The Redis key (a LIST) holding the log of `window` for `key`.
    ///
    /// Braces in `key` become `_`, since they would break the hash tag.
    pub fn redis_key(&self, key: &str, window: &Window) -> String {
        let tag = key.replace(['{', '}'], "_");
        format!(
            "{}{{{tag}}}:{}:{}",
            self.prefix,
            window.limit,
            window.period.as_millis()
        )
    }

    /// [`RateLimiter::check`] at a given time (µs since the Unix epoch) instead of the Redis
    /// clock, so tests can compare the script with `domain::sliding_log` exactly.
    ///
    /// # Errors
    /// [`RateLimitError::Unavailable`] when Redis fails or is slower than the timeout.
    pub async fn check_at(
        &self,
        key: &str,
        windows: &[Window],
        now_us: u64,
    ) -> Result<Decision, RateLimitError> {
        self.run(Mode::Check, key, windows, Some(now_us)).await
    }

    /// [`RateLimiter::peek`] at a given time (µs since the Unix epoch), like [`Self::check_at`].
    ///
    /// # Errors
    /// [`RateLimitError::Unavailable`] when Redis fails or is slower than the timeout.
    pub async fn peek_at(
        &self,
        key: &str,
        windows: &[Window],
        now_us: u64,
    ) -> Result<Decision, RateLimitError> {
        self.run(Mode::Peek, key, windows, Some(now_us)).await
    }

    async fn run(
        &self,
        mode: Mode,
        key: &str,
        windows: &[Window],
        now_us: Option<u64>,
    ) -> Result<Decision, RateLimitError> {
        if windows.is_empty() {
            return Ok(sliding_log::peek::<Log>(0, windows, &[]));
        }
        let keys = windows.iter().map(|w| self.redis_key(key, w)).collect();
        let mut args = vec![
            mode.as_str().to_string(),
            now_us.map(|n| n.to_string()).unwrap_or_default(),
        ];
        for window in windows {
            args.push(window.limit.to_string());
            args.push(window.period.as_micros().to_string());
        }
        let call = SCRIPT.run::<Vec<i64>>(&self.client, keys, args);
        // Fail fast instead of queueing while disconnected: a check queued during an outage would
        // be replayed after the reconnect and consume the student's quota a second time.
        let reply = match &self.health {
            Some(health) => {
                health
                    .call_connected("rate_limit", self.timeout, call)
                    .await
            }
            None if !self.client.is_connected() => Err(RedisFailure::Disconnected),
            None => guarded(None, "rate_limit", self.timeout, call).await,
        }
        .map_err(|e| {
            RateLimitError::Unavailable(format!("redis rate limit {}: {e}", mode.as_str()))
        })?;
        decode(windows, &reply).ok_or_else(|| {
            RateLimitError::Unavailable(format!("redis rate limit {}: bad reply", mode.as_str()))
        })
    }
}

/// Turns `{allowed, remaining₁, reset µs₁, retry µs₁, …}` into a [`Decision`]; `None` when the
/// reply does not have that shape.
fn decode(windows: &[Window], reply: &[i64]) -> Option<Decision> {
    let (&allowed, rest) = reply.split_first()?;
    if rest.len() != 3 * windows.len() {
        return None;
    }
    let micros = |n: i64| u64::try_from(n).ok().map(Duration::from_micros);
    let mut states = Vec::with_capacity(windows.len());
    let mut retries = Vec::with_capacity(windows.len());
    for triple in rest.chunks_exact(3) {
        states.push(WindowState {
            remaining: u32::try_from(triple[0]).ok()?,
            reset_after: micros(triple[1])?,
        });
        retries.push(micros(triple[2])?);
    }
    Some(sliding_log::assemble(
        windows,
        allowed == 1,
        states,
        &retries,
    ))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        self.run(Mode::Check, key, windows, None).await
    }

    async fn peek(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        self.run(Mode::Peek, key, windows, None).await
    }
}
