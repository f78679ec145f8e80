//! Quotas: which windows apply to a caller, checked against the shared limiter with the
//! in-process limiter as a floor while the shared one fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::{IntCounterVec, Opts, Registry};

use crate::config::RateLimitConfig;
use crate::domain::ports::RateLimiter;
use crate::domain::principal::Tier;
use crate::domain::rate_limit::{Bucket, Decision, Window, period_name};

/// The outcome of a quota check, for headers and errors.
#[derive(Debug, Clone)]
pub struct QuotaOutcome {
    /// Bucket checked.
    pub bucket: Bucket,
    /// Its windows for the caller's tier.
    pub windows: Vec<Window>,
    /// The limiter's decision.
    pub decision: Decision,
}

impl QuotaOutcome {
    /// The tightest window and its state.
    pub fn tightest(&self) -> Option<(Window, crate::domain::rate_limit::WindowState)> {
        let i = self.decision.tightest;
        Some((*self.windows.get(i)?, *self.decision.windows.get(i)?))
    }
}

/// The quota use cases.
pub struct QuotaService {
    shared: Option<Arc<dyn RateLimiter>>,
    local: Arc<dyn RateLimiter>,
    quotas: RateLimitConfig,
    degraded: AtomicBool,
    rejections: IntCounterVec,
    fallbacks: IntCounterVec,
    decisions: IntCounterVec,
}

impl QuotaService {
    /// Quotas over `local` alone, or `shared` (Redis) with `local` as the floor.
    pub fn new(
        shared: Option<Arc<dyn RateLimiter>>,
        local: Arc<dyn RateLimiter>,
        quotas: RateLimitConfig,
        registry: Option<&Registry>,
    ) -> Self {
        let rejections = IntCounterVec::new(
            Opts::new("rate_limit_rejections_total", "Requests refused by a quota"),
            &["bucket", "window"],
        )
        .expect("static counter definition is valid");
        let fallbacks = IntCounterVec::new(
            Opts::new(
                "rate_limit_fallbacks_total",
                "Checks decided in process because Redis failed",
            ),
            &["bucket"],
        )
        .expect("static counter definition is valid");
        let decisions = IntCounterVec::new(
            Opts::new(
                "rate_limit_decisions_total",
                "Quota checks by bucket (chat, api) and outcome (allowed, rejected)",
            ),
            &["bucket", "outcome"],
        )
        .expect("static counter definition is valid");
        // Known series start at zero, so rates and alerts see them before the first event.
        for (bucket, by_tier) in [(Bucket::Chat, &quotas.chat), (Bucket::Api, &quotas.api)] {
            for window in by_tier.iter().flatten() {
                rejections.with_label_values(&[bucket.as_str(), &period_name(window.period)]);
            }
            fallbacks.with_label_values(&[bucket.as_str()]);
            for outcome in ["allowed", "rejected"] {
                decisions.with_label_values(&[bucket.as_str(), outcome]);
            }
        }
        if let Some(registry) = registry {
            let _ = registry.register(Box::new(rejections.clone()));
            let _ = registry.register(Box::new(fallbacks.clone()));
            let _ = registry.register(Box::new(decisions.clone()));
        }
        Self {
            shared,
            local,
            quotas,
            degraded: AtomicBool::new(false),
            rejections,
            fallbacks,
            decisions,
        }
    }

    /// The windows of `bucket` for `tier` (empty = unlimited).
    pub fn windows(&self, bucket: Bucket, tier: Tier) -> &[Window] {
        let by_tier = match bucket {
            Bucket::Chat => &self.quotas.chat,
            Bucket::Api => &self.quotas.api,
        };
        match tier {
            Tier::Free => &by_tier[0],
            Tier::Premium => &by_tier[1],
            Tier::Admin => &by_tier[2],
        }
    }

    /// Checks and consumes one request of `user` in `bucket`; `None` when unlimited.
    pub async fn check(&self, user: &str, bucket: Bucket, tier: Tier) -> Option<QuotaOutcome> {
        let windows = self.windows(bucket, tier).to_vec();
        if windows.is_empty() {
            return None;
        }
        let key = format!("{}:{user}", bucket.as_str());
        let decision = self.decide(&key, bucket, &windows, false).await;
        let outcome = QuotaOutcome {
            bucket,
            windows,
            decision,
        };
        let verdict = if outcome.decision.allowed {
            "allowed"
        } else {
            "rejected"
        };
        self.decisions
            .with_label_values(&[bucket.as_str(), verdict])
            .inc();
        if !outcome.decision.allowed
            && let Some((window, _)) = outcome.tightest()
        {
            let window = period_name(window.period);
            self.rejections
                .with_label_values(&[bucket.as_str(), &window])
                .inc();
            tracing::warn!(
                user,
                bucket = bucket.as_str(),
                window,
                "rate limit exceeded"
            );
        }
        Some(outcome)
    }

    /// The state of every bucket for `user`, consuming nothing.
    pub async fn status(&self, user: &str, tier: Tier) -> Vec<QuotaOutcome> {
        let mut all = Vec::new();
        for bucket in [Bucket::Chat, Bucket::Api] {
            let windows = self.windows(bucket, tier).to_vec();
            if windows.is_empty() {
                continue;
            }
            let key = format!("{}:{user}", bucket.as_str());
            let decision = self.decide(&key, bucket, &windows, true).await;
            all.push(QuotaOutcome {
                bucket,
                windows,
                decision,
            });
        }
        all
    }

    async fn decide(&self, key: &str, bucket: Bucket, windows: &[Window], peek: bool) -> Decision {
        if let Some(shared) = &self.shared {
            let answer = if peek {
                shared.peek(key, windows).await
            } else {
                shared.check(key, windows).await
            };
            match answer {
                Ok(decision) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("shared rate limiter is back");
                    }
                    return decision;
                }
                Err(e) => {
                    self.fallbacks.with_label_values(&[bucket.as_str()]).inc();
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "shared rate limiter unavailable; limiting in process until it answers");
                    }
                }
            }
        }
        let local = if peek {
            self.local.peek(key, windows).await
        } else {
            self.local.check(key, windows).await
        };
        local.unwrap_or_else(|e| {
            // The in-process limiter does no I/O; if it ever fails, let the request through
            // rather than refuse service, and say so.
            tracing::error!(error = %e, "in-process rate limiter failed; request allowed");
            Decision {
                allowed: true,
                windows: Vec::new(),
                tightest: 0,
                retry_after: None,
            }
        })
    }
}
