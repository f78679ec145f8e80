//! Outbound adapter: DeliveryLog on Redis, so a webhook delivery is acted on by one replica
//! once: `SET key 1 NX PX ttl` records it, and only the first caller sees `OK`.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, Expiration, KeysInterface, SetOptions};

use crate::domain::ports::{CacheError, DeliveryLog};

/// Upper bound on one Redis call: a webhook waits for it before purging.
const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// [`DeliveryLog`] shared by every replica using the same Redis.
#[derive(Clone)]
pub struct RedisDeliveryLog {
    client: Client,
    prefix: String,
}

impl RedisDeliveryLog {
    /// Deliveries for the lessons of `repo`@`branch` (replicas serving another book or branch
    /// from the same Redis keep their own).
    pub fn new(client: Client, repo: &str, branch: &str) -> Self {
        let tag = format!("{repo}@{branch}").replace(['{', '}'], "_");
        Self {
            client,
            prefix: format!("webhook-delivery:v1:{{{tag}}}:"),
        }
    }
}

fn unavailable(op: &str, e: &fred::prelude::Error) -> CacheError {
    CacheError::Unavailable(format!("redis {op}: {:?}", e.kind()))
}

fn timed_out(op: &str) -> CacheError {
    CacheError::Unavailable(format!("redis {op}: timed out"))
}

#[async_trait]
impl DeliveryLog for RedisDeliveryLog {
    async fn record(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let set = self.client.set::<Option<String>, _, _>(
            format!("{}{key}", self.prefix),
            "1",
            Some(Expiration::PX(ms)),
            Some(SetOptions::NX),
            false,
        );
        match tokio::time::timeout(OP_TIMEOUT, set).await {
            Ok(Ok(reply)) => Ok(reply.is_some()),
            Ok(Err(e)) => Err(unavailable("SET NX", &e)),
            Err(_) => Err(timed_out("SET NX")),
        }
    }

    async fn forget(&self, key: &str) -> Result<(), CacheError> {
        let del = self.client.del::<i64, _>(format!("{}{key}", self.prefix));
        match tokio::time::timeout(OP_TIMEOUT, del).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unavailable("DEL", &e)),
            Err(_) => Err(timed_out("DEL")),
        }
    }
}
