//! Outbound adapter: ProgressTracker on Redis (fred), so every worker and replica sees the same
//! progress.
//!
//! One hash per resource at `<prefix><resource>` (`progress:<resource>` by default), one field
//! per stage (its lowercase name) holding `STATUS|unix ms|error` (`COMPLETED|1767225600000|`).
//! A write is one small Lua script, `HSET` then `PEXPIRE`, so a record never outlives its TTL
//! even when the connection drops between the two. A read is one `HGETALL`; reads of many
//! resources are pipelined. Every call is bounded by the settings' timeout, and fails fast
//! while the shared [`RedisHealth`] knows Redis is down: writes are then dropped and reads
//! answer the default state, with a warning at most every [`WARN_EVERY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::prelude::{Client, ClientLike, Error, HashesInterface, Value};

use super::redis::{RedisFailure, RedisHealth, Script, guarded, px};
use crate::domain::ports::ProgressTracker;
use crate::domain::progress::{
    ResourceProgress, Stage, StageProgress, StageStatus, bound_error, validate_resource_id,
};

/// The label of this adapter's calls in `redis_fast_failures_total`.
const COMPONENT: &str = "progress";

/// Shortest pause between two warnings about an unreachable Redis.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Resources read in one pipelined round trip by [`ProgressTracker::get_many`].
const READ_BATCH: usize = 256;

/// `KEYS[1]` the resource's hash; `ARGV` the stage, its encoded value, the TTL in ms.
static SET: Script = Script::new(
    r"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1",
);

/// How the Redis tracker behaves (`PROGRESS_TTL_SECS` sets `ttl` once it is wired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSettings {
    /// Start of every key (`progress:` by default); tests use a prefix of their own.
    pub prefix: String,
    /// How long a resource's record lives after its last write.
    pub ttl: Duration,
    /// Upper bound on one Redis call (a script reload included).
    pub call_timeout: Duration,
}

impl Default for ProgressSettings {
    fn default() -> Self {
        Self {
            prefix: "progress:".to_string(),
            ttl: Duration::from_secs(24 * 3_600),
            call_timeout: Duration::from_millis(500),
        }
    }
}

/// [`ProgressTracker`] shared by every process using the same Redis.
#[derive(Clone)]
pub struct RedisProgressTracker {
    client: Client,
    settings: ProgressSettings,
    health: Option<RedisHealth>,
    warnings: Arc<WarnGate>,
}

impl std::fmt::Debug for RedisProgressTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProgressTracker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RedisProgressTracker {
    /// A tracker over an already connecting client.
    pub fn new(client: Client, settings: ProgressSettings) -> Self {
        Self {
            client,
            settings,
            health: None,
            warnings: Arc::new(WarnGate::default()),
        }
    }

    /// Fails fast while `health` says Redis is down, and reports timeouts and connection
    /// errors to it (without it, every call waits out the timeout while Redis stalls).
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// The key of the hash holding `resource`'s stages.
    pub fn redis_key(&self, resource: &str) -> String {
        format!("{}{resource}", self.settings.prefix)
    }

    async fn read(&self, resource: &str) -> Result<ResourceProgress, RedisFailure> {
        let call = self
            .client
            .hgetall::<HashMap<String, String>, _>(self.redis_key(resource));
        let fields = guarded(
            self.health.as_ref(),
            COMPONENT,
            self.settings.call_timeout,
            call,
        )
        .await?;
        Ok(decode(resource, &fields))
    }

    /// One pipelined round trip for `resources` (all valid ids).
    async fn read_batch(&self, resources: &[&str]) -> Result<Vec<ResourceProgress>, RedisFailure> {
        if resources.is_empty() {
            return Ok(Vec::new());
        }
        let pipeline = self.client.pipeline();
        for resource in resources {
            // Queues the command in memory; nothing is sent yet.
            let _: Result<(), Error> = pipeline.hgetall(self.redis_key(resource)).await;
        }
        let replies: Vec<Value> = guarded(
            self.health.as_ref(),
            COMPONENT,
            self.settings.call_timeout,
            pipeline.all(),
        )
        .await?;
        Ok(resources
            .iter()
            .zip(replies.into_iter().chain(std::iter::repeat(Value::Null)))
            .map(|(resource, reply)| {
                let fields = reply
                    .convert::<HashMap<String, String>>()
                    .unwrap_or_default();
                decode(resource, &fields)
            })
            .collect())
    }
}

#[async_trait]
impl ProgressTracker for RedisProgressTracker {
    async fn set_progress<'a>(
        &self,
        resource: &str,
        stage: Stage,
        status: StageStatus,
        error: Option<&'a str>,
    ) {
        if let Err(e) = validate_resource_id(resource) {
            tracing::warn!(reason = %e, stage = %stage, "progress not recorded");
            return;
        }
        let value = encode(&StageProgress::new(status, error, Utc::now()));
        let keys = vec![self.redis_key(resource)];
        let args = vec![
            stage.as_str().to_string(),
            value,
            px(self.settings.ttl).to_string(),
        ];
        let call = SET.run::<i64>(&self.client, keys, args);
        let timeout = self.settings.call_timeout;
        // Never queued behind a reconnection: a write replayed later could overwrite a newer one.
        let outcome = match &self.health {
            Some(health) => health.call_connected(COMPONENT, timeout, call).await,
            None if !self.client.is_connected() => Err(RedisFailure::Disconnected),
            None => guarded(None, COMPONENT, timeout, call).await,
        };
        if let Err(failure) = outcome {
            self.warnings.warn("set", &failure);
        }
    }

    async fn get_progress(&self, resource: &str) -> ResourceProgress {
        if validate_resource_id(resource).is_err() {
            return ResourceProgress::pending(resource);
        }
        match self.read(resource).await {
            Ok(progress) => progress,
            Err(failure) => {
                self.warnings.warn("get", &failure);
                ResourceProgress::pending(resource)
            }
        }
    }

    async fn get_many(&self, resources: &[String]) -> Vec<ResourceProgress> {
        let mut out = Vec::with_capacity(resources.len());
        for chunk in resources.chunks(READ_BATCH) {
            let valid: Vec<&str> = chunk
                .iter()
                .map(String::as_str)
                .filter(|r| validate_resource_id(r).is_ok())
                .collect();
            let mut read = match self.read_batch(&valid).await {
                Ok(read) => read.into_iter(),
                Err(failure) => {
                    self.warnings.warn("get_many", &failure);
                    Vec::new().into_iter()
                }
            };
            for resource in chunk {
                // The batch holds the valid ids only, in order.
                let known = if validate_resource_id(resource).is_ok() {
                    read.next()
                } else {
                    None
                };
                out.push(known.unwrap_or_else(|| ResourceProgress::pending(resource)));
            }
        }
        out
    }
}

/// `STATUS|unix ms|error` (the error, already bounded, may hold `|`: it is the last part).
fn encode(stage: &StageProgress) -> String {
    format!(
        "{}|{}|{}",
        stage.status,
        stage.updated_at.map_or(0, |t| t.timestamp_millis()),
        stage.error.as_deref().unwrap_or("")
    )
}

/// The progress in a resource's hash; fields this version cannot read are left pending.
fn decode(resource: &str, fields: &HashMap<String, String>) -> ResourceProgress {
    let stages = fields.iter().filter_map(|(field, value)| {
        let stage = Stage::parse(field)?;
        let mut parts = value.splitn(3, '|');
        let status = StageStatus::parse(parts.next()?)?;
        let ms: i64 = parts.next()?.parse().ok()?;
        let error = parts.next().and_then(bound_error);
        Some((
            stage,
            StageProgress {
                status,
                error,
                updated_at: DateTime::from_timestamp_millis(ms).filter(|_| ms > 0),
            },
        ))
    });
    ResourceProgress::from_stages(resource, stages)
}

/// Logs a failure at most once per [`WARN_EVERY`], with how many were not logged meanwhile.
#[derive(Default)]
struct WarnGate {
    /// When the last warning was logged, and failures since then.
    state: Mutex<(Option<Instant>, u64)>,
}

impl WarnGate {
    fn warn(&self, op: &'static str, failure: &RedisFailure) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, unlogged) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            *unlogged += 1;
            return;
        }
        tracing::warn!(
            op,
            error = %failure,
            unlogged_since_last = *unlogged,
            "progress tracking degraded: Redis unavailable (writes dropped, reads answer PENDING)"
        );
        *last = Some(Instant::now());
        *unlogged = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_round_trips_through_its_encoding() {
        let at = DateTime::from_timestamp_millis(1_767_225_600_123).unwrap();
        let stage = StageProgress::new(StageStatus::Failed, Some("a | b"), at);
        let fields = HashMap::from([("quality".to_string(), encode(&stage))]);

        let progress = decode("r", &fields);

        assert_eq!(progress.stage(Stage::Quality), &stage);
        assert_eq!(progress.overall(), StageStatus::Failed);
    }

    #[test]
    fn unreadable_fields_read_as_pending() {
        let fields = HashMap::from([
            ("quality".to_string(), "DONE|1|".to_string()),
            ("graph".to_string(), "COMPLETED|x|".to_string()),
            ("other".to_string(), "COMPLETED|1|".to_string()),
            ("taxonomy".to_string(), "COMPLETED".to_string()),
        ]);

        assert_eq!(decode("r", &fields), ResourceProgress::pending("r"));
    }
}
