//! Outbound adapter: TurnLock on Redis, so one turn runs at a time per thread across replicas.
//!
//! `SET key token NX PX ttl` takes the lock; a compare-and-delete script releases it only when
//! the token is still ours, so a lock that expired and was taken by another replica is never
//! released by the first one.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, Expiration, KeysInterface, LuaInterface, SetOptions};

use crate::adapters::redis::{OP_TIMEOUT, RedisHealth, guarded};
use crate::domain::ports::{LockError, TurnGuard, TurnLock};

/// Label of this adapter in `redis_fast_failures_total`.
const COMPONENT: &str = "fetch_lock";

const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// [`TurnLock`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisTurnLock {
    client: Client,
    prefix: String,
    health: Option<RedisHealth>,
}

impl RedisTurnLock {
    /// A lock table under `turn-lock:v1:` (plus `namespace`, so tests can stay apart).
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            client,
            prefix: format!("turn-lock:v1:{namespace}"),
            health: None,
        }
    }

    /// Fails fast while `health` says Redis is down (callers fall back at once), and reports
    /// timeouts and connection errors to it.
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }
}

struct RedisGuard {
    client: Client,
    key: String,
    token: String,
}

impl TurnGuard for RedisGuard {}

impl Drop for RedisGuard {
    fn drop(&mut self) {
        let (client, key, token) = (
            self.client.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        // Release in the background; if it fails the TTL frees the lock anyway.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = client.eval::<i64, _, _, _>(RELEASE, vec![key], vec![token]).await {
                    tracing::warn!(error = %e, "releasing a turn lock failed; it expires by itself");
                }
            });
        }
    }
}

#[async_trait]
impl TurnLock for RedisTurnLock {
    async fn try_acquire(
        &self,
        thread_id: &str,
        ttl: Duration,
    ) -> Result<Option<Box<dyn TurnGuard>>, LockError> {
        // Hash-tagged so the key of a thread always lives on one cluster slot.
        let key = format!("{}{{{thread_id}}}", self.prefix);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let set = self.client.set(
            &key,
            token.as_str(),
            Some(Expiration::PX(ms)),
            Some(SetOptions::NX),
            false,
        );
        let taken: Option<String> = guarded(self.health.as_ref(), COMPONENT, OP_TIMEOUT, set)
            .await
            .map_err(|e| LockError::Unavailable(e.to_string()))?;
        Ok(taken.map(|_| {
            Box::new(RedisGuard {
                client: self.client.clone(),
                key,
                token,
            }) as Box<dyn TurnGuard>
        }))
    }
}
