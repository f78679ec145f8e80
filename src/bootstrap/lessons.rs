//! Lessons: the source (GitHub or a local folder) behind its circuit breaker, the in-process
//! cache, and — with Redis — the shared tier, purge bus, fetch lock and delivery log.

use std::sync::Arc;

use crate::adapters::lesson_cache_memory::MemoryLessonCache;
use crate::adapters::lesson_cache_redis::RedisLessonCache;
use crate::adapters::lessons_github::{GithubLessonSource, GithubSettings};
use crate::adapters::lessons_local::LocalLessonSource;
use crate::adapters::rate_limit_memory::MemoryRateLimiter;
use crate::adapters::redis::RedisClient;
use crate::adapters::redis_bus::RedisInvalidationBus;
use crate::adapters::redis_deliveries::RedisDeliveryLog;
use crate::adapters::redis_lock::RedisTurnLock;
use crate::app::lessons::{BreakerSource, LessonMetrics, LessonService, LessonSettings};
use crate::config::Config;
use crate::domain::circuit_breaker::BreakerSettings;
use crate::domain::ports::{LessonSource, RateLimiter};
use crate::http::metrics::Metrics;

/// Lessons through the in-process cache (and the shared tier when Redis is configured).
pub async fn lesson_service(
    config: &Config,
    redis: Option<&RedisClient>,
    metrics: &Metrics,
) -> anyhow::Result<Arc<LessonService>> {
    let lessons = &config.lessons;
    let settings = LessonSettings {
        fresh_for: lessons.content_ttl,
        l1_ttl: lessons.l1_ttl,
        purge_all_interval: lessons.purge_all_interval,
        ..LessonSettings::default()
    };
    let l1 = Arc::new(MemoryLessonCache::new(lessons.l1_capacity));
    let source = Arc::new(BreakerSource::new(
        lesson_source(config)?,
        BreakerSettings {
            failure_threshold: lessons.breaker_failures,
            cool_off: lessons.breaker_cool_off,
            ..BreakerSettings::default()
        },
    ));
    // In process: one log of at most `per minute` timestamps per active user; 1 million
    // timestamps (about 8 MB) is tens of thousands of users at their full budget.
    let budget: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(1_000_000));
    let mut service = LessonService::new(
        source,
        l1,
        settings,
        LessonMetrics::new(Some(metrics.registry())),
    )
    .with_fetch_budget(budget, lessons.upstream_fetches_per_minute);
    if let Some(redis) = redis {
        let client = redis.client().clone();
        let health = redis.health();
        let l2 =
            RedisLessonCache::new(client.clone(), &lessons.github_repo, &lessons.github_branch)
                .with_health(health.clone());
        let bus = RedisInvalidationBus::new(client.clone(), l2.purge_channel())
            .with_health(health.clone());
        let fetch_lock =
            RedisTurnLock::new(client.clone(), "lesson-fetch:").with_health(health.clone());
        let deliveries =
            RedisDeliveryLog::new(client, &lessons.github_repo, &lessons.github_branch)
                .with_health(health.clone());
        service = service
            .with_shared(Arc::new(l2), Arc::new(bus), Arc::new(fetch_lock))
            .with_delivery_log(Arc::new(deliveries));
    }
    let service = Arc::new(service);
    service
        .start_invalidation_listener(std::time::Duration::from_secs(2))
        .await;
    Ok(service)
}

fn lesson_source(config: &Config) -> anyhow::Result<Arc<dyn LessonSource>> {
    let lessons = &config.lessons;
    if let Some(dir) = &lessons.dir {
        tracing::info!(dir, "lessons come from a local folder (LESSONS_DIR)");
        return Ok(Arc::new(LocalLessonSource::new(dir)));
    }
    if lessons.github_token.is_none() {
        tracing::warn!(
            "GITHUB_TOKEN is not set: GitHub allows 60 unauthenticated requests per hour"
        );
    }
    tracing::info!(repo = %lessons.github_repo, branch = %lessons.github_branch, "lessons come from GitHub");
    let source = GithubLessonSource::new(GithubSettings {
        raw_base_url: lessons.github_raw_base_url.clone(),
        repo: lessons.github_repo.clone(),
        branch: lessons.github_branch.clone(),
        docs_prefix: lessons.docs_prefix.clone(),
        token: lessons.github_token.clone(),
    })?;
    Ok(Arc::new(source))
}
