//! Outbound adapter: InvalidationBus on Redis pub/sub (fred), so a purge reaches every
//! replica's in-process cache.
//!
//! Messages are compact JSON, `{"all":true}` or `{"paths":[...]}`. Publishing uses the shared
//! client; receiving uses a dedicated connection (a subscribed RESP2 connection can run nothing
//! else), opened on the first `subscribe` and subscribed again after every reconnection.

mod listen;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike, PubsubInterface};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::redis::{RedisHealth, guarded};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{CacheError, Invalidation, InvalidationBus};

/// Upper bound on one publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the first `subscribe` waits for Redis to confirm the subscription; after that the
/// stream is returned anyway and starts delivering once Redis is reachable.
const FIRST_SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

/// Purges buffered per subscriber; one that falls further behind gets a purge of everything.
const FANOUT_CAPACITY: usize = 256;

/// The wire form of a purge.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Wire {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    paths: Vec<LessonPath>,
}

/// A message on the channel that is not a purge.
#[derive(Debug, thiserror::Error)]
#[error("malformed purge message: {0}")]
struct Malformed(String);

/// Encodes a purge; `None` for a purge of no paths, which there is no point announcing.
fn encode(invalidation: &Invalidation) -> Option<String> {
    let wire = match invalidation {
        Invalidation::All => Wire {
            all: true,
            ..Wire::default()
        },
        Invalidation::Paths(paths) if paths.is_empty() => return None,
        Invalidation::Paths(paths) => Wire {
            paths: paths.clone(),
            ..Wire::default()
        },
    };
    serde_json::to_string(&wire).ok()
}

/// Decodes a purge. An empty path list is refused: the listener would read it as "everything".
fn decode(message: &str) -> Result<Invalidation, Malformed> {
    let wire: Wire = serde_json::from_str(message).map_err(|e| Malformed(e.to_string()))?;
    match wire {
        Wire { all: true, .. } => Ok(Invalidation::All),
        Wire { paths, .. } if !paths.is_empty() => Ok(Invalidation::Paths(paths)),
        _ => Err(Malformed("neither \"all\" nor any \"paths\"".into())),
    }
}

/// Purge announcements over one Redis channel.
pub struct RedisInvalidationBus {
    publisher: Client,
    subscriber: Client,
    channel: String,
    fanout: broadcast::Sender<Invalidation>,
    /// Set once the listener runs; tells whether Redis confirmed the subscription yet.
    subscribed: OnceLock<watch::Receiver<bool>>,
    /// The publisher's outage memory, when shared with the other adapters.
    health: Option<RedisHealth>,
}

impl std::fmt::Debug for RedisInvalidationBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInvalidationBus")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl RedisInvalidationBus {
    /// Publishes with `client` on `channel` (one per repository and branch, e.g.
    /// `RedisLessonCache::purge_channel`); receives on a new connection with the same settings,
    /// so the client's reconnect policy (the one `RedisClient::connect` sets) is what keeps the
    /// subscription alive across Redis outages.
    pub fn new(client: Client, channel: impl Into<String>) -> Self {
        Self {
            subscriber: client.clone_new(),
            publisher: client,
            channel: channel.into(),
            fanout: broadcast::channel(FANOUT_CAPACITY).0,
            subscribed: OnceLock::new(),
            health: None,
        }
    }

    /// Publishing fails fast while `health` says Redis is down, and reports timeouts and
    /// connection errors to it. (Receiving has its own connection and resubscribes by itself.)
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// Starts the listener once; returns whether the subscription is confirmed.
    fn start(&self) -> watch::Receiver<bool> {
        self.subscribed
            .get_or_init(|| {
                let (confirmed, subscribed) = watch::channel(false);
                listen::spawn(
                    self.subscriber.clone(),
                    self.channel.clone(),
                    self.fanout.clone(),
                    confirmed,
                );
                subscribed
            })
            .clone()
    }
}

impl Drop for RedisInvalidationBus {
    fn drop(&mut self) {
        if self.subscribed.get().is_none() {
            return;
        }
        // Quitting closes the client's event streams, which ends the listener task.
        let subscriber = self.subscriber.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = subscriber.quit().await;
            });
        }
    }
}

#[async_trait]
impl InvalidationBus for RedisInvalidationBus {
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), CacheError> {
        let Some(message) = encode(invalidation) else {
            return Ok(());
        };
        let sent = self
            .publisher
            .publish::<i64, _, _>(self.channel.as_str(), message);
        guarded(
            self.health.as_ref(),
            "invalidation_bus",
            PUBLISH_TIMEOUT,
            sent,
        )
        .await
        .map(|_receivers| ())
        .map_err(|e| CacheError::Unavailable(format!("redis publish: {e}")))
    }

    async fn subscribe(&self) -> BoxStream<'static, Invalidation> {
        // Receive before starting, so nothing announced after the confirmation is missed.
        let purges = self.fanout.subscribe();
        let mut subscribed = self.start();
        if tokio::time::timeout(FIRST_SUBSCRIBE_WAIT, subscribed.wait_for(|ok| *ok))
            .await
            .is_err()
        {
            tracing::warn!(
                "Redis has not confirmed the purge subscription yet; it will once reachable"
            );
        }
        futures::stream::unfold(purges, |mut purges| async move {
            match purges.recv().await {
                Ok(purge) => Some((purge, purges)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "purge announcements were dropped; purging every lesson"
                    );
                    Some((Invalidation::All, purges))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}
