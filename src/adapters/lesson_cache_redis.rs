//! Outbound adapter: LessonCache on Redis (fred) — the L2 tier every replica shares.
//!
//! Keys live under `lesson:v2:{repo@branch}` (a hash tag, so every key of a book sits on one
//! cluster slot and one script may touch them all): `…:epoch` counts purges of everything,
//! `…:c:<path>` holds `<epoch>|<copy>` and `…:m:<path>` a negative entry (its epoch). Purging
//! keeps copies as the last good version: purging a path rewrites its epoch to `-1`, purging
//! everything bumps the epoch; either way the copy then reads as stale, so the next read
//! fetches again but a failing source still has it to serve. Negative entries of an older
//! epoch read as nothing. Every operation is one script, hence one round trip.

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, KeysInterface};
use serde::{Deserialize, Serialize};

use super::redis::{RedisHealth, book_tag, bounded, px};
use crate::adapters::redis::Script;
use crate::domain::lesson::{CachedLesson, LessonPath, RawLesson};
use crate::domain::ports::{CacheError, CacheLookup, LessonCache};

/// The label of this adapter's calls in `redis_fast_failures_total`.
const COMPONENT: &str = "lesson_cache";

/// Longest a negative entry is kept, whatever the caller asks.
const MAX_MISSING_TTL: Duration = Duration::from_secs(60);

/// Replies `{1, copy}`, `{3, copy}` (purged: stale whatever its freshness), `{2, ''}`
/// (negative entry) or `{0, ''}` (nothing).
static GET: Script = Script::new(
    r"local epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
local value = redis.call('GET', ARGV[1] .. ':c:' .. ARGV[2])
if value then
  local sep = string.find(value, '|', 1, true)
  if not sep then return {0, ''} end
  local kind = 1
  if tonumber(string.sub(value, 1, sep - 1)) < epoch then kind = 3 end
  return {kind, string.sub(value, sep + 1)}
end
local missing = redis.call('GET', ARGV[1] .. ':m:' .. ARGV[2])
if missing and tonumber(missing) >= epoch then return {2, ''} end
return {0, ''}",
);

/// A copy replaces a negative entry of the same path.
static PUT: Script = Script::new(
    r"local epoch = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. ':c:' .. ARGV[2], epoch .. '|' .. ARGV[3], 'PX', ARGV[4])
redis.call('DEL', ARGV[1] .. ':m:' .. ARGV[2])
return 1",
);

/// A negative entry replaces the copy of the same path (the source says it is gone).
static PUT_MISSING: Script = Script::new(
    r"local epoch = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. ':m:' .. ARGV[2], epoch, 'PX', ARGV[3])
redis.call('DEL', ARGV[1] .. ':c:' .. ARGV[2])
return 1",
);

/// Marks the paths' copies purged (same expiry), drops their negative entries; replies how
/// many of the paths had either.
static INVALIDATE: Script = Script::new(
    r"local purged = 0
for i = 2, #ARGV do
  local key = ARGV[1] .. ':c:' .. ARGV[i]
  local value = redis.call('GET', key)
  local hit = redis.call('DEL', ARGV[1] .. ':m:' .. ARGV[i]) > 0
  if value then
    hit = true
    local sep = string.find(value, '|', 1, true)
    if sep then
      redis.call('SET', key, '-1' .. string.sub(value, sep), 'KEEPTTL')
    end
  end
  if hit then purged = purged + 1 end
end
return purged",
);

/// What a copy looks like in Redis; the path is the key, so it is not repeated.
#[derive(Debug, Serialize, Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    markdown: Cow<'a, str>,
    fetched_at: i64,
    /// Unix milliseconds after which the copy is stale.
    fresh_until: i64,
}

/// The shared lesson cache of one repository and branch.
#[derive(Clone)]
pub struct RedisLessonCache {
    client: Client,
    namespace: String,
    health: Option<RedisHealth>,
}

impl std::fmt::Debug for RedisLessonCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLessonCache")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisLessonCache {
    /// Lessons of `repo` at `branch`, over an already connecting client.
    pub fn new(client: Client, repo: &str, branch: &str) -> Self {
        Self {
            client,
            namespace: namespace(repo, branch),
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

    /// The pub/sub channel for purges of this repository and branch, for the invalidation bus.
    pub fn purge_channel(&self) -> String {
        format!("{}:purge", self.namespace)
    }

    fn epoch_key(&self) -> String {
        format!("{}:epoch", self.namespace)
    }

    /// Runs one script against the current epoch, within [`super::redis::OP_TIMEOUT`].
    async fn run<R: fred::prelude::FromValue>(
        &self,
        op: &str,
        script: &Script,
        mut args: Vec<String>,
    ) -> Result<R, CacheError> {
        args.insert(0, self.namespace.clone());
        let call = script.run(&self.client, vec![self.epoch_key()], args);
        bounded(self.health.as_ref(), COMPONENT, op, call).await
    }
}

/// `lesson:v2:{repo@branch}` (v2: epoch-stamped copies that survive purges); braces inside
/// the names would break the hash tag.
fn namespace(repo: &str, branch: &str) -> String {
    format!("lesson:v2:{{{}}}", book_tag(repo, branch))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Encodes a copy; `fresh_until` uses this replica's clock, which is fine for freshness counted
/// in hours between NTP-synchronised replicas.
fn encode(lesson: &CachedLesson, fresh_for: Duration) -> Result<String, CacheError> {
    serde_json::to_string(&Stored {
        markdown: Cow::Borrowed(&lesson.lesson.markdown),
        fetched_at: lesson.fetched_at,
        fresh_until: now_ms().saturating_add(px(fresh_for)),
    })
    .map_err(|e| CacheError::Unavailable(format!("encode lesson: {e}")))
}

/// Decodes a copy; `None` for a value this version cannot read (it is then treated as a miss).
fn decode(path: &LessonPath, value: &str, now_ms: i64) -> Option<CachedLesson> {
    let stored: Stored<'_> = serde_json::from_str(value).ok()?;
    Some(CachedLesson {
        lesson: RawLesson {
            path: path.clone(),
            markdown: stored.markdown.into_owned(),
        },
        fetched_at: stored.fetched_at,
        stale: now_ms >= stored.fresh_until,
    })
}

#[async_trait]
impl LessonCache for RedisLessonCache {
    async fn get(&self, path: &LessonPath) -> Result<CacheLookup, CacheError> {
        let (kind, value): (i64, String) = self
            .run("get", &GET, vec![path.as_str().to_string()])
            .await?;
        Ok(match kind {
            1 | 3 => match decode(path, &value, now_ms()) {
                Some(copy) => CacheLookup::Hit(CachedLesson {
                    stale: copy.stale || kind == 3,
                    ..copy
                }),
                None => {
                    tracing::warn!(
                        lesson = path.as_str(),
                        "unreadable shared cache entry; treating it as a miss"
                    );
                    CacheLookup::Miss
                }
            },
            2 => CacheLookup::Missing,
            _ => CacheLookup::Miss,
        })
    }

    async fn put(
        &self,
        lesson: &CachedLesson,
        fresh_for: Duration,
        retain: Duration,
    ) -> Result<(), CacheError> {
        let value = encode(lesson, fresh_for)?;
        let args = vec![
            lesson.lesson.path.as_str().to_string(),
            value,
            px(retain.max(fresh_for)).to_string(),
        ];
        self.run::<i64>("put", &PUT, args).await.map(drop)
    }

    async fn put_missing(&self, path: &LessonPath, ttl: Duration) -> Result<(), CacheError> {
        let args = vec![
            path.as_str().to_string(),
            px(ttl.min(MAX_MISSING_TTL)).to_string(),
        ];
        self.run::<i64>("put_missing", &PUT_MISSING, args)
            .await
            .map(drop)
    }

    async fn invalidate(&self, paths: &[LessonPath]) -> Result<u64, CacheError> {
        if paths.is_empty() {
            let key = self.epoch_key();
            let incr = self.client.incr::<i64, _>(key);
            bounded(self.health.as_ref(), COMPONENT, "invalidate", incr).await?;
            return Ok(0);
        }
        let args = paths.iter().map(|p| p.as_str().to_string()).collect();
        let purged: i64 = self.run("invalidate", &INVALIDATE, args).await?;
        Ok(u64::try_from(purged).unwrap_or(0))
    }
}
