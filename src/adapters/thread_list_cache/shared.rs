//! The per-user list generation every replica sharing one Redis checks before serving a cached
//! page, and the write protocol that keeps it exact.
//!
//! Two keys per user, hash-tagged onto one slot: `…{user}:g`, a random generation, and
//! `…{user}:p`, the number of that user's thread writes under way. A write first *marks* (one
//! script: a new random generation and `pending += 1`, both at once), then writes the database,
//! then *ends* (`pending -= 1`). A reader `MGET`s both keys (one round trip) and may use the
//! cache only when nothing is pending; a page is served only when it was filled under the
//! generation the reader just read. So:
//! - a page filled before a write's mark carries an older generation and is never served after;
//! - no page is filled or served between a mark and its end (pending);
//! - a page filled after the end read the database after the write committed.
//!
//! A reader also tags its page with the number of connection losses and reconnections its
//! client has seen: a page filled before Redis went away on this replica is never served after
//! (a write elsewhere may have gone unannounced meanwhile).
//!
//! An end that never comes (the replica died, Redis failed, the write failed ambiguously)
//! leaves `pending` set until it expires ([`PENDING_TTL`], longer than any bounded write): lists
//! of that user read the database meanwhile, still exact. A mark that fails is retried once
//! after the write as a plain new generation (still before the write answers), which is exact
//! as well; when both fail, the write is announced in the background as soon as Redis answers
//! again (for up to a page's lifetime, after which no page filled before it is left).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use fred::prelude::{Client, EventInterface, Expiration, KeysInterface, SetOptions};

use crate::adapters::redis::{RedisFailure, RedisHealth, Script, guarded, px};

/// Label of this adapter in `redis_fast_failures_total`.
const COMPONENT: &str = "thread_list_cache";

/// How long a generation lives after the last write of its user (far longer than a cached
/// page, so a page never outlives the generation it was filled under).
pub(super) const GENERATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a mark whose end never came keeps that user's lists on the database: longer than
/// any write can run (acquire timeout + statement timeout are seconds).
pub(super) const PENDING_TTL: Duration = Duration::from_secs(300);

/// New generation and one more write under way, at once.
static MARK: Script = Script::new(
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
     redis.call('INCR', KEYS[2]) \
     redis.call('PEXPIRE', KEYS[2], ARGV[3]) \
     return 1",
);

/// One write fewer under way (the key goes at zero; never below, even once it expired).
static END: Script = Script::new(
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
     if n > 1 then return redis.call('DECR', KEYS[1]) end \
     redis.call('DEL', KEYS[1]) \
     return 0",
);

/// What a reader learnt from Redis.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Generation {
    /// Nothing pending: pages filled under this generation may be served.
    Current(String),
    /// A write is under way, or the user has no generation yet: read the database.
    Unusable,
}

/// The user's generation keys in one Redis shared by every replica.
#[derive(Clone)]
pub struct SharedGenerations {
    client: Client,
    prefix: String,
    timeout: Duration,
    health: Option<RedisHealth>,
    /// Connection losses and reconnections seen by the client.
    epoch: Arc<AtomicU64>,
    /// Background announcements under way.
    retries: Arc<AtomicUsize>,
}

/// Most writes announced in the background at once (beyond, the page lifetime bounds them).
const MAX_RETRIES: usize = 10_000;

impl SharedGenerations {
    /// Keys under `prefix` (tests pass their own, to stay apart); every call bounded by
    /// `timeout` (a slow Redis sends the list to the database instead).
    /// Must be called within the runtime (it listens to the client's connection events).
    pub fn new(client: Client, prefix: &str, timeout: Duration) -> Self {
        let epoch = Arc::new(AtomicU64::new(0));
        let (lost, back) = (epoch.clone(), epoch.clone());
        drop(client.on_error(move |_| {
            lost.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        }));
        drop(client.on_reconnect(move |_| {
            back.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        }));
        Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            health: None,
            epoch,
            retries: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Fails fast while `health` says Redis is down, and reports failures to it.
    #[must_use]
    pub fn with_health(mut self, health: RedisHealth) -> Self {
        self.health = Some(health);
        self
    }

    fn keys(&self, user_id: &str) -> (String, String) {
        // Braces in the id would move the hash tag.
        let tag = user_id.replace(['{', '}'], "_");
        (
            format!("{}{{{tag}}}:g", self.prefix),
            format!("{}{{{tag}}}:p", self.prefix),
        )
    }

    async fn call<R>(
        &self,
        call: impl Future<Output = Result<R, fred::prelude::Error>>,
    ) -> Result<R, RedisFailure> {
        guarded(self.health.as_ref(), COMPONENT, self.timeout, call).await
    }

    /// The generation a reader may use, in one round trip.
    pub(super) async fn read(&self, user_id: &str) -> Result<Generation, RedisFailure> {
        let (generation, pending) = self.keys(user_id);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let got: Vec<Option<String>> = self
            .call(self.client.mget(vec![generation.clone(), pending]))
            .await?;
        match got.as_slice() {
            [Some(g), None] => Ok(Generation::Current(format!("{epoch}:{g}"))),
            [None, None] => {
                // First list since the generation expired (or ever): give the user one, so the
                // next list can use the cache. NX: a write's mark meanwhile wins.
                let init = self.client.set::<Option<String>, _, _>(
                    generation,
                    fresh(),
                    Some(Expiration::PX(px(GENERATION_TTL))),
                    Some(SetOptions::NX),
                    false,
                );
                self.call(init).await?;
                Ok(Generation::Unusable)
            }
            _ => Ok(Generation::Unusable),
        }
    }

    /// Before a write: a new generation and one more write pending.
    pub(super) async fn mark(&self, user_id: &str) -> Result<(), RedisFailure> {
        let (generation, pending) = self.keys(user_id);
        let args = vec![
            fresh(),
            px(GENERATION_TTL).to_string(),
            px(PENDING_TTL).to_string(),
        ];
        self.call(MARK.run::<i64>(&self.client, vec![generation, pending], args))
            .await
            .map(drop)
    }

    /// After a write that was marked.
    pub(super) async fn end(&self, user_id: &str) -> Result<(), RedisFailure> {
        let (_, pending) = self.keys(user_id);
        self.call(END.run::<i64>(&self.client, vec![pending], vec![]))
            .await
            .map(drop)
    }

    /// After a write whose mark failed: a new generation, which is exact too once the write has
    /// committed (pages filled before carry the old one).
    pub(super) async fn bump(&self, user_id: &str) -> Result<(), RedisFailure> {
        let (generation, _) = self.keys(user_id);
        let set = self.client.set::<Option<String>, _, _>(
            generation,
            fresh(),
            Some(Expiration::PX(px(GENERATION_TTL))),
            None,
            false,
        );
        self.call(set).await.map(drop)
    }

    /// Keeps trying [`Self::bump`] in the background, once a second for `within`.
    pub(super) fn bump_later(&self, user_id: &str, within: Duration) {
        if self.retries.fetch_add(1, Ordering::SeqCst) >= MAX_RETRIES {
            self.retries.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let (this, user_id) = (self.clone(), user_id.to_owned());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + within;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if this.bump(&user_id).await.is_ok() {
                    tracing::info!("thread list cache: a write was announced late");
                    break;
                }
            }
            this.retries.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// A generation no earlier one can equal (128 random bits), so even a Redis that lost its data
/// never brings back a generation some cached page was filled under.
fn fresh() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
