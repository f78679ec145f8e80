//! Lessons through the cache: an in-process L1 in front of an optional shared L2, one upstream
//! fetch per path at a time (single-flight here, a lock across replicas), a per-user budget of
//! upstream fetches, stale-if-error, and purges (keeping the purged copy as stale) fanned out
//! to every replica's L1. The circuit breaker wraps the source itself ([`BreakerSource`]).

mod breaker;
mod budget;
pub mod deliveries;
mod metrics;
mod purge;
mod refresh;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::lesson::{CachedLesson, LessonPath, ParsedLesson, parse_lesson};
use crate::domain::ports::{
    CacheLookup, InvalidationBus, LessonCache, LessonSource, LessonSourceError, TurnLock,
};
use crate::flight::Flights;
pub use breaker::BreakerSource;
use budget::FetchBudget;
use deliveries::Deliveries;
pub use metrics::LessonMetrics;
pub use purge::PurgeError;
pub use refresh::Refreshed;

/// How long to leave a source alone that asked for it without saying how long.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(30);

/// Why a lesson could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LessonError {
    /// The source positively says it does not exist.
    #[error("lesson not found")]
    NotFound,
    /// The source failed and nothing usable is cached.
    #[error("lesson unavailable")]
    Unavailable,
    /// The source is being left alone (it refused for its rate limit, or its circuit breaker
    /// is open) and nothing usable is cached; no upstream request was made for most callers.
    #[error("lesson source backing off")]
    SourceBackingOff {
        /// When asking again may succeed.
        retry_after: Duration,
    },
    /// The caller used up its upstream fetches for now and nothing usable is cached.
    #[error("lesson fetch budget exhausted")]
    FetchBudgetExhausted {
        /// Upstream fetches allowed per user and minute.
        limit: u32,
        /// When the caller may fetch again.
        retry_after: Duration,
    },
}

/// Freshness and retention rules.
#[derive(Debug, Clone)]
pub struct LessonSettings {
    /// How long a fetched copy is fresh (`CONTENT_CACHE_TTL`).
    pub fresh_for: Duration,
    /// Lifetime of an L1 entry in front of an L2 (`LESSON_L1_TTL_SECS`); bounds how long a
    /// replica that missed a purge announcement can serve an old copy.
    pub l1_ttl: Duration,
    /// How long the last good copy is kept for stale-if-error.
    pub retain: Duration,
    /// How long "no such lesson" is remembered.
    pub missing_ttl: Duration,
    /// How long a replica waits for another replica's fetch before fetching itself.
    pub lock_wait: Duration,
    /// Shortest time between two purges of everything in this process
    /// (`LESSON_PURGE_ALL_MIN_INTERVAL_SECS`).
    pub purge_all_interval: Duration,
}

impl Default for LessonSettings {
    fn default() -> Self {
        Self {
            fresh_for: Duration::from_secs(86_400),
            l1_ttl: Duration::from_secs(60),
            retain: Duration::from_secs(30 * 86_400),
            missing_ttl: Duration::from_secs(60),
            lock_wait: Duration::from_secs(10),
            purge_all_interval: Duration::from_secs(60),
        }
    }
}

/// A lesson as served, with where it came from.
#[derive(Debug, Clone)]
pub struct LessonView {
    /// The parsed lesson.
    pub lesson: Arc<ParsedLesson>,
    /// Unix seconds when the copy was fetched from the source.
    pub fetched_at: i64,
    /// Whether it came from a cache (no upstream request for this call).
    pub cached: bool,
    /// Whether it is a copy past its freshness, served because the source failed.
    pub stale: bool,
}

/// The lesson use cases.
pub struct LessonService {
    source: Arc<dyn LessonSource>,
    l1: Arc<dyn LessonCache>,
    l2: Option<Arc<dyn LessonCache>>,
    bus: Option<Arc<dyn InvalidationBus>>,
    fetch_lock: Option<Arc<dyn TurnLock>>,
    settings: LessonSettings,
    flights: Flights<String, Fetched>,
    /// Parsed lessons by (path, content hash), so cache hits do not parse again.
    parsed: moka::sync::Cache<(String, i64), Arc<ParsedLesson>>,
    l2_down: AtomicBool,
    metrics: LessonMetrics,
    deliveries: Deliveries,
    /// Per-user bound on cache misses that go upstream, when configured.
    fetch_budget: Option<FetchBudget>,
    /// When this process last purged everything.
    last_purge_all: Mutex<Option<Instant>>,
}

/// Outcome of one upstream fetch, shared by every caller waiting on it.
type Fetched = Result<CachedLesson, LessonError>;

impl LessonService {
    /// Lessons from `source` through `l1` (and `l2` when shared caching is configured).
    pub fn new(
        source: Arc<dyn LessonSource>,
        l1: Arc<dyn LessonCache>,
        settings: LessonSettings,
        metrics: LessonMetrics,
    ) -> Self {
        Self {
            source,
            l1,
            l2: None,
            bus: None,
            fetch_lock: None,
            settings,
            flights: Flights::default(),
            parsed: moka::sync::Cache::builder()
                .max_capacity(1_000)
                .support_invalidation_closures()
                .time_to_idle(Duration::from_secs(600))
                .build(),
            l2_down: AtomicBool::new(false),
            metrics,
            deliveries: Deliveries::default(),
            fetch_budget: None,
            last_purge_all: Mutex::new(None),
        }
    }

    /// Remembers webhook deliveries in `log` too, so every replica acts on a delivery once.
    pub fn with_delivery_log(mut self, log: Arc<dyn crate::domain::ports::DeliveryLog>) -> Self {
        self.deliveries = Deliveries::new(Some(log));
        self
    }

    /// The webhook deliveries already acted on.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Adds the shared tier: L2 cache, purge fan-out and the cross-replica fetch lock.
    pub fn with_shared(
        mut self,
        l2: Arc<dyn LessonCache>,
        bus: Arc<dyn InvalidationBus>,
        fetch_lock: Arc<dyn TurnLock>,
    ) -> Self {
        self.l2 = Some(l2);
        self.bus = Some(bus);
        self.fetch_lock = Some(fetch_lock);
        self
    }

    /// A lesson for `user`, from the cache when possible; a miss counts against the user's
    /// budget of upstream fetches.
    ///
    /// # Errors
    /// [`LessonError::NotFound`] when the source says so; when no copy is retained:
    /// [`LessonError::Unavailable`] when it fails, [`LessonError::SourceBackingOff`] while it
    /// is left alone, [`LessonError::FetchBudgetExhausted`] when `user` fetched too much.
    pub async fn load(&self, path: &LessonPath, user: &str) -> Result<LessonView, LessonError> {
        let mut stale: Option<CachedLesson> = None;
        match self.l1.get(path).await {
            Ok(CacheLookup::Hit(hit)) if !hit.stale => {
                self.metrics.hit("l1");
                return Ok(self.view(hit, true));
            }
            Ok(CacheLookup::Hit(old)) => stale = Some(old),
            Ok(CacheLookup::Missing) => return Err(LessonError::NotFound),
            Ok(CacheLookup::Miss) => {}
            Err(e) => tracing::warn!(error = %e, "in-process lesson cache failed"),
        }
        if let Some(l2) = &self.l2 {
            match self.l2_lookup(l2, path).await {
                Some(CacheLookup::Hit(hit)) if !hit.stale => {
                    self.metrics.hit("l2");
                    self.fill_l1(&hit).await;
                    return Ok(self.view(hit, true));
                }
                Some(CacheLookup::Hit(old)) => stale = stale.or(Some(old)),
                Some(CacheLookup::Missing) => {
                    let _ = self
                        .l1
                        .put_missing(path, self.settings.missing_ttl.min(self.settings.l1_ttl))
                        .await;
                    return Err(LessonError::NotFound);
                }
                Some(CacheLookup::Miss) | None => {}
            }
        }
        self.metrics.hit("miss");
        // Joining a fetch already under way costs the source nothing, so it costs no budget
        // (two callers racing to start one may both pay; that only errs on the strict side).
        let spent = if self.flights.in_progress(path.as_str()) {
            Ok(())
        } else {
            self.spend_fetch(user).await
        };
        let fetched = match spent {
            Ok(()) => {
                self.flights
                    .run(path.as_str().to_owned(), || self.fetch_shared(path.clone()))
                    .await
            }
            Err(exhausted) => Err(exhausted),
        };
        match fetched {
            Ok(fresh) => Ok(self.view(fresh, false)),
            Err(
                e @ (LessonError::Unavailable
                | LessonError::SourceBackingOff { .. }
                | LessonError::FetchBudgetExhausted { .. }),
            ) => match stale {
                Some(old) => {
                    self.metrics.hit("stale");
                    tracing::warn!(
                        lesson = path.as_str(),
                        fetched_at = old.fetched_at,
                        why = %e,
                        "lesson not fetched; serving the last good copy"
                    );
                    Ok(self.view(CachedLesson { stale: true, ..old }, true))
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn l2_lookup(&self, l2: &Arc<dyn LessonCache>, path: &LessonPath) -> Option<CacheLookup> {
        match l2.get(path).await {
            Ok(found) => {
                if self.l2_down.swap(false, Ordering::Relaxed) {
                    tracing::info!("shared lesson cache is back");
                }
                Some(found)
            }
            Err(e) => {
                if !self.l2_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "shared lesson cache unavailable; serving from the in-process cache and the source");
                }
                None
            }
        }
    }

    async fn fill_l1(&self, lesson: &CachedLesson) {
        let (fresh, retain) = match self.l2 {
            Some(_) => (self.settings.l1_ttl, self.settings.l1_ttl),
            None => (self.settings.fresh_for, self.settings.retain),
        };
        if let Err(e) = self.l1.put(lesson, fresh, retain).await {
            tracing::warn!(error = %e, "in-process lesson cache refused a copy");
        }
    }

    /// One fetch for this replica; with a shared tier, one for all replicas: the lock holder
    /// fetches while the others wait for the copy to appear in L2.
    async fn fetch_shared(&self, path: LessonPath) -> Fetched {
        let (Some(lock), Some(l2)) = (&self.fetch_lock, &self.l2) else {
            return self.fetch(&path).await;
        };
        let key = format!("lesson:{}", path.as_str());
        match lock.try_acquire(&key, self.settings.lock_wait).await {
            Ok(Some(_guard)) => self.fetch(&path).await,
            Ok(None) => {
                self.metrics.lock_wait();
                let deadline = tokio::time::Instant::now() + self.settings.lock_wait;
                let mut pause = Duration::from_millis(20);
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                    match l2.get(&path).await {
                        Ok(CacheLookup::Hit(hit)) if !hit.stale => {
                            self.fill_l1(&hit).await;
                            return Ok(hit);
                        }
                        Ok(CacheLookup::Missing) => return Err(LessonError::NotFound),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                self.fetch(&path).await
            }
            Err(_) => self.fetch(&path).await,
        }
    }

    async fn fetch(&self, path: &LessonPath) -> Fetched {
        let started = std::time::Instant::now();
        let outcome = self.source.fetch(path).await;
        self.metrics.fetched(&outcome, started.elapsed());
        match outcome {
            Ok(raw) => {
                let copy = CachedLesson {
                    lesson: raw,
                    fetched_at: chrono::Utc::now().timestamp(),
                    stale: false,
                };
                self.store_fresh(&copy).await;
                Ok(copy)
            }
            Err(error) => self.source_failed(path, error).await,
        }
    }

    /// Puts a good copy in L2 (fresh for `fresh_for`) and L1.
    async fn store_fresh(&self, copy: &CachedLesson) {
        if let Some(l2) = &self.l2
            && let Err(e) = l2
                .put(copy, self.settings.fresh_for, self.settings.retain)
                .await
        {
            tracing::warn!(error = %e, "shared lesson cache refused a copy");
        }
        self.fill_l1(copy).await;
    }

    /// What a failed fetch means for the caller; "no such lesson" is remembered in both tiers.
    async fn source_failed(&self, path: &LessonPath, error: LessonSourceError) -> Fetched {
        match error {
            LessonSourceError::NotFound => {
                let ttl = self.settings.missing_ttl;
                if let Some(l2) = &self.l2 {
                    let _ = l2.put_missing(path, ttl).await;
                }
                let _ = self
                    .l1
                    .put_missing(path, ttl.min(self.settings.l1_ttl))
                    .await;
                Err(LessonError::NotFound)
            }
            LessonSourceError::Unavailable(reason) => {
                // Never cached: the next request tries the source again.
                tracing::warn!(lesson = path.as_str(), reason = %reason, "lesson source failed");
                Err(LessonError::Unavailable)
            }
            LessonSourceError::Backoff {
                retry_after,
                reason,
            } => {
                tracing::debug!(lesson = path.as_str(), reason = %reason, "lesson source backing off");
                Err(LessonError::SourceBackingOff {
                    retry_after: retry_after.unwrap_or(DEFAULT_BACKOFF),
                })
            }
        }
    }

    fn view(&self, copy: CachedLesson, cached: bool) -> LessonView {
        // Keyed by content, not by fetch time: two fetches within one second may differ.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&copy.lesson.markdown, &mut hasher);
        let key = (
            copy.lesson.path.as_str().to_string(),
            std::hash::Hasher::finish(&hasher) as i64,
        );
        let lesson = self.parsed.get_with(key, || {
            Arc::new(parse_lesson(&copy.lesson.path, &copy.lesson.markdown))
        });
        LessonView {
            lesson,
            fetched_at: copy.fetched_at,
            cached,
            stale: copy.stale,
        }
    }
}
