//! Outbound adapter: TokenLedger on Redis, so every replica charges the same daily budget.
//!
//! One integer per student and budget day at `<prefix>{<key>}:<YYYYMMDD>` (`tb:v1:` by default).
//! A charge is one small Lua script, `INCRBY` then `EXPIRE` (two days), so a counter never
//! outlives its day by much even when the connection drops between the two; a read is one
//! `GET`. Every call is bounded by the timeout given (the rate limiter's), never queued behind a
//! reconnection (a charge replayed after an outage would count twice), and fails fast while
//! the shared [`RedisHealth`] knows Redis is down.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use fred::prelude::{Client, ClientLike, Error, KeysInterface};

use super::redis::{RedisFailure, RedisHealth, Script, guarded};
use crate::domain::ports::{LedgerError, TokenLedger};
use crate::domain::token_budget::day_key;

/// The label of this adapter's calls in `redis_fast_failures_total`.
const COMPONENT: &str = "token_budget";

/// How long a day's counter lives after its last charge: past the end of its day, whatever
/// the hour of the charge.
pub const KEEP: Duration = Duration::from_secs(2 * 86_400);

/// `KEYS[1]` the counter; `ARGV` the tokens and the TTL in seconds. Answers the new total.
static CHARGE: Script = Script::new(
    r"local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return total",
);

/// [`TokenLedger`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisTokenLedger {
    client: Client,
    prefix: String,
    timeout: Duration,
    health: Option<RedisHealth>,
}

impl std::fmt::Debug for RedisTokenLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenLedger")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisTokenLedger {
    /// A ledger whose keys start with `prefix` (e.g. `tb:v1:`); every call, a script reload
    /// included, gives up after `timeout`.
    pub fn new(client: Client, prefix: &str, timeout: Duration) -> Self {
        Self {
            client,
            prefix: prefix.to_string(),
            timeout,
            health: None,
        }
    }

    /// Fails fast while `health` says Redis is down, and reports timeouts and connection
    /// errors to it.
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// The Redis key of `key`'s counter on `day`. Braces in `key` become `_`, since they would
    /// break the hash tag.
    pub fn redis_key(&self, key: &str, day: NaiveDate) -> String {
        let tag = key.replace(['{', '}'], "_");
        format!("{}{{{tag}}}:{}", self.prefix, day_key(day))
    }

    async fn send<R>(
        &self,
        op: &str,
        call: impl std::future::Future<Output = Result<R, Error>>,
    ) -> Result<R, LedgerError> {
        match &self.health {
            Some(health) => health.call_connected(COMPONENT, self.timeout, call).await,
            None if !self.client.is_connected() => Err(RedisFailure::Disconnected),
            None => guarded(None, COMPONENT, self.timeout, call).await,
        }
        .map_err(|e| LedgerError::Unavailable(format!("redis token ledger {op}: {e}")))
    }
}

#[async_trait]
impl TokenLedger for RedisTokenLedger {
    async fn spent(&self, key: &str, day: NaiveDate) -> Result<u64, LedgerError> {
        let call = self.client.get::<Option<i64>, _>(self.redis_key(key, day));
        let spent = self.send("read", call).await?;
        Ok(spent.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn charge(&self, key: &str, day: NaiveDate, tokens: u64) -> Result<u64, LedgerError> {
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        let keys = vec![self.redis_key(key, day)];
        let args = vec![tokens.to_string(), KEEP.as_secs().to_string()];
        let total = self
            .send("charge", CHARGE.run::<i64>(&self.client, keys, args))
            .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use fred::prelude::{Builder, Config};

    use super::*;

    fn ledger(prefix: &str) -> RedisTokenLedger {
        let client = Builder::from_config(Config::default())
            .build()
            .expect("a client needs no connection to be built");
        RedisTokenLedger::new(client, prefix, Duration::from_millis(100))
    }

    #[test]
    fn keys_are_hash_tagged_per_user_and_name_their_day() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        assert_eq!(
            ledger("tb:v1:").redis_key("user_1", day),
            "tb:v1:{user_1}:20260314"
        );
        assert_eq!(ledger("tb:").redis_key("a}b{c", day), "tb:{a_b_c}:20260314");
    }

    #[tokio::test]
    async fn a_disconnected_client_fails_at_once_without_queueing() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let ledger = ledger("tb:");
        assert!(matches!(
            ledger.charge("u", day, 5).await,
            Err(LedgerError::Unavailable(_))
        ));
        assert!(ledger.spent("u", day).await.is_err());
    }
}
