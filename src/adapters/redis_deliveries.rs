//! Outbound adapter: DeliveryLog on Redis, so a webhook delivery is acted on by one replica
//! once: `SET key 1 NX PX ttl` records it, and only the first caller sees `OK`.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, Expiration, KeysInterface, SetOptions};

use super::redis::{RedisHealth, book_tag, bounded, px};
use crate::domain::ports::{CacheError, DeliveryLog};

/// [`DeliveryLog`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisDeliveryLog {
    client: Client,
    prefix: String,
    health: Option<RedisHealth>,
}

/// The label of this adapter's calls in `redis_fast_failures_total`.
const COMPONENT: &str = "webhook_deliveries";

impl RedisDeliveryLog {
    /// Deliveries for the lessons of `repo`@`branch` (replicas serving another book or branch
    /// from the same Redis keep their own).
    pub fn new(client: Client, repo: &str, branch: &str) -> Self {
        Self {
            client,
            prefix: format!("webhook-delivery:v1:{{{}}}:", book_tag(repo, branch)),
            health: None,
        }
    }

    /// Fails fast while `health` says Redis is down, and reports timeouts and connection
    /// errors to it (without it, every call waits out its own timeout).
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }
}

#[async_trait]
impl DeliveryLog for RedisDeliveryLog {
    async fn record(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let set = self.client.set::<Option<String>, _, _>(
            format!("{}{key}", self.prefix),
            "1",
            Some(Expiration::PX(px(ttl))),
            Some(SetOptions::NX),
            false,
        );
        bounded(self.health.as_ref(), COMPONENT, "SET NX", set)
            .await
            .map(|reply| reply.is_some())
    }

    async fn forget(&self, key: &str) -> Result<(), CacheError> {
        let del = self.client.del::<i64, _>(format!("{}{key}", self.prefix));
        bounded(self.health.as_ref(), COMPONENT, "DEL", del)
            .await
            .map(drop)
    }
}
