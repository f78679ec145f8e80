//! Outbound adapter: RateLimiter on Redis, so every replica counts against the same quota.
//!
//! One Lua script (`sliding_log.lua`, the rules of `domain::sliding_log`) checks and updates
//! every window of a bucket atomically, on the Redis server's clock so replicas with skewed
//! clocks agree. A window's log is a LIST of admitted request times (µs, newest first, at most
//! `limit` of them) at `<prefix>{<key>}:<limit>:<period ms>`: the hash tag keeps all windows of a
//! key on one cluster slot, and each list expires one period after its last consumption, when
//! every entry has left the window anyway. Needs Redis 5 or later (a script that reads `TIME`
//! and then writes).
//!
//! Checks are coalesced ([`batch`]): while one script call is in flight, the checks that arrive
//! wait, and go together as the next call, which checks and consumes them one after the other in
//! arrival order. Each check is decided exactly as if it had been sent alone at that moment (the
//! script runs atomically), but Redis runs one script and the client handles one command and one
//! reply for many requests. On a Redis cluster a batch is split by hash slot (one call per slot,
//! sent together); on a single Redis every user's checks share one call.

mod batch;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike};

use super::redis::{RedisFailure, RedisHealth, Script, guarded};
use crate::domain::ports::{RateLimitError, RateLimiter};
use crate::domain::rate_limit::{Decision, Window, WindowState};
use crate::domain::sliding_log::{self, Log};

/// The check-and-consume of every window of each bucket of a batch.
static SCRIPT: Script = Script::new(include_str!("rate_limit_redis/sliding_log.lua"));

/// [`RateLimiter`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    client: Client,
    prefix: String,
    timeout: Duration,
    health: Option<RedisHealth>,
    /// Checks waiting for the next script call.
    queue: Arc<Mutex<batch::Queue>>,
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

/// One check or peek of a script call.
struct Item<'a> {
    mode: Mode,
    key: &'a str,
    windows: &'a [Window],
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
            queue: Arc::default(),
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
    /// clock, so tests can compare the script with `domain::sliding_log` exactly. Sent alone,
    /// never batched.
    ///
    /// # Errors
    /// [`RateLimitError::Unavailable`] when Redis fails or is slower than the timeout.
    pub async fn check_at(
        &self,
        key: &str,
        windows: &[Window],
        now_us: u64,
    ) -> Result<Decision, RateLimitError> {
        self.alone(Mode::Check, key, windows, Some(now_us)).await
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
        self.alone(Mode::Peek, key, windows, Some(now_us)).await
    }

    /// Whether a call may be sent now.
    ///
    /// Fails fast instead of queueing while disconnected: a check queued during an outage would
    /// be replayed after the reconnect and consume the student's quota a second time.
    fn admit(&self) -> Result<(), RedisFailure> {
        match &self.health {
            Some(health) => health.admit_connected("rate_limit"),
            None if !self.client.is_connected() => Err(RedisFailure::Disconnected),
            None => Ok(()),
        }
    }

    /// One script call over `items`, admitted beforehand, within the timeout.
    async fn call(
        &self,
        items: &[Item<'_>],
        now_us: Option<u64>,
    ) -> Result<Vec<i64>, RedisFailure> {
        let call = self.script_call(items, now_us);
        match &self.health {
            Some(health) => health.send_admitted(self.timeout, call).await,
            None => guarded(None, "rate_limit", self.timeout, call).await,
        }
    }

    fn script_call(
        &self,
        items: &[Item<'_>],
        now_us: Option<u64>,
    ) -> impl Future<Output = Result<Vec<i64>, fred::prelude::Error>> + '_ {
        let windows: usize = items.iter().map(|i| i.windows.len()).sum();
        let mut keys = Vec::with_capacity(windows);
        let mut args = Vec::with_capacity(1 + 2 * items.len() + 2 * windows);
        args.push(now_us.map(|n| n.to_string()).unwrap_or_default());
        for item in items {
            args.push(item.mode.as_str().to_string());
            args.push(item.windows.len().to_string());
            for window in item.windows {
                keys.push(self.redis_key(item.key, window));
                args.push(window.limit.to_string());
                args.push(window.period.as_micros().to_string());
            }
        }
        SCRIPT.run::<Vec<i64>>(&self.client, keys, args)
    }

    /// A check or peek sent as its own script call.
    async fn alone(
        &self,
        mode: Mode,
        key: &str,
        windows: &[Window],
        now_us: Option<u64>,
    ) -> Result<Decision, RateLimitError> {
        if windows.is_empty() {
            return Ok(sliding_log::peek::<Log>(0, windows, &[]));
        }
        let unavailable = |e: &dyn std::fmt::Display| unavailable(mode, e);
        self.admit().map_err(|e| unavailable(&e))?;
        let items = [Item { mode, key, windows }];
        let reply = self
            .call(&items, now_us)
            .await
            .map_err(|e| unavailable(&e))?;
        decode_batch(&[windows], &reply)
            .pop()
            .unwrap_or(Err(BAD_REPLY))
            .map_err(|e| unavailable(&e))
    }
}

fn unavailable(mode: Mode, e: &dyn std::fmt::Display) -> RateLimitError {
    RateLimitError::Unavailable(format!("redis rate limit {}: {e}", mode.as_str()))
}

const BAD_REPLY: &str = "bad reply";

/// Splits the reply of a script call over `windows` (one slice per check, in order) into one
/// decision per check: a check Redis refused gets an error, and so does every check when the
/// reply does not have the shape the script gives.
fn decode_batch(windows: &[&[Window]], reply: &[i64]) -> Vec<Result<Decision, &'static str>> {
    let mut decisions = Vec::with_capacity(windows.len());
    let mut rest = reply;
    for windows in windows {
        match rest.first() {
            Some(-1) => {
                decisions.push(Err("command refused"));
                rest = &rest[1..];
            }
            _ => {
                let Some((own, tail)) = rest.split_at_checked(1 + 3 * windows.len()) else {
                    return vec![Err(BAD_REPLY); decisions.capacity()];
                };
                let Some(decision) = decode(windows, own) else {
                    return vec![Err(BAD_REPLY); decisions.capacity()];
                };
                decisions.push(Ok(decision));
                rest = tail;
            }
        }
    }
    if !rest.is_empty() {
        return vec![Err(BAD_REPLY); windows.len()];
    }
    decisions
}

/// Turns `{allowed, remaining₁, reset µs₁, retry µs₁, …}` into a [`Decision`]; `None` when the
/// reply does not have that shape.
fn decode(windows: &[Window], reply: &[i64]) -> Option<Decision> {
    let (&allowed, rest) = reply.split_first()?;
    if rest.len() != 3 * windows.len() || !(allowed == 0 || allowed == 1) {
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
        if windows.is_empty() {
            return Ok(sliding_log::peek::<Log>(0, windows, &[]));
        }
        self.admit().map_err(|e| unavailable(Mode::Check, &e))?;
        self.queued(key, windows)
            .await
            .map_err(|e| unavailable(Mode::Check, &e))
    }

    async fn peek(&self, key: &str, windows: &[Window]) -> Result<Decision, RateLimitError> {
        self.alone(Mode::Peek, key, windows, None).await
    }
}
