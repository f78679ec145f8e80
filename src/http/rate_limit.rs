//! Quotas on the wire: the check before an operation, the `RateLimit*` headers of the IETF
//! httpapi draft (revisions 10–11) plus `X-RateLimit-*`, and the 429; daily token budgets in
//! [`budget`].

mod budget;

pub use budget::{BudgetSlot, TokenBudgetStatus, show_budget, turn_refused};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;

use super::error::ApiError;
use crate::app::quota::{QuotaOutcome, QuotaService};
use crate::domain::principal::Principal;
use crate::domain::rate_limit::{Bucket, period_name};

/// Where an operation leaves its quota outcome for the headers middleware.
#[derive(Clone, Default)]
pub struct QuotaSlot(Arc<Mutex<Option<QuotaOutcome>>>);

fn ceil_secs(d: Duration) -> u64 {
    d.as_micros().div_ceil(1_000_000) as u64
}

/// Checks and consumes one request of `who` in `bucket`.
///
/// # Errors
/// 429 with `Retry-After` when a window is exhausted.
pub async fn enforce(req: &Request, who: &Principal, bucket: Bucket) -> Result<(), ApiError> {
    let Some(quotas) = req.data::<Arc<QuotaService>>() else {
        return Ok(());
    };
    let Some(outcome) = quotas.check(&who.user_id, bucket, who.tier).await else {
        return Ok(());
    };
    if let Some(slot) = req.data::<QuotaSlot>()
        && let Ok(mut slot) = slot.0.lock()
    {
        *slot = Some(outcome.clone());
    }
    if outcome.decision.allowed {
        return Ok(());
    }
    let retry = outcome
        .decision
        .retry_after
        .unwrap_or(Duration::from_secs(1));
    let (limit, window) = outcome
        .tightest()
        .map_or((0, "unknown".to_string()), |(w, _)| {
            (w.limit, period_name(w.period))
        });
    Err(ApiError::rate_limited(
        format!(
            "{} quota exceeded: {limit} per {window}; retry later",
            bucket.as_str()
        ),
        limit,
        &window,
        retry,
    ))
}

/// The `RateLimit-Policy` and `RateLimit` values of an outcome.
pub fn header_values(outcome: &QuotaOutcome) -> (String, String) {
    let name = |w: &crate::domain::rate_limit::Window| {
        format!("{}-{}", outcome.bucket.as_str(), period_name(w.period))
    };
    let policy = outcome
        .windows
        .iter()
        .map(|w| format!("\"{}\";q={};w={}", name(w), w.limit, w.period.as_secs()))
        .collect::<Vec<_>>()
        .join(", ");
    let current = outcome
        .tightest()
        .map(|(w, s)| {
            format!(
                "\"{}\";r={};t={}",
                name(&w),
                s.remaining,
                ceil_secs(s.reset_after)
            )
        })
        .unwrap_or_default();
    (policy, current)
}

/// Middleware: gives the operation a slot for its quota outcome and turns it into headers.
pub async fn headers<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let slot = QuotaSlot::default();
    req.set_data(slot.clone());
    let budget = BudgetSlot::default();
    req.set_data(budget.clone());
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    budget.apply(&mut resp);
    let outcome = slot.0.lock().ok().and_then(|mut s| s.take());
    if let Some(outcome) = outcome {
        let (policy, current) = header_values(&outcome);
        let h = resp.headers_mut();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        };
        put("ratelimit-policy", policy);
        put("ratelimit", current);
        if let Some((w, s)) = outcome.tightest() {
            put("x-ratelimit-limit", w.limit.to_string());
            put("x-ratelimit-remaining", s.remaining.to_string());
            put("x-ratelimit-reset", ceil_secs(s.reset_after).to_string());
        }
    }
    Ok(resp)
}

/// A quota window's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum WindowName {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day.
    Day,
}

impl WindowName {
    /// The window of `period` (quotas only have these four lengths).
    pub fn of(period: Duration) -> Self {
        match period.as_secs() {
            0..=1 => Self::Second,
            2..=60 => Self::Minute,
            61..=3_600 => Self::Hour,
            _ => Self::Day,
        }
    }
}

/// A quota bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum BucketName {
    /// Operations that run the model.
    Chat,
    /// Every other authenticated request.
    Api,
}

impl From<Bucket> for BucketName {
    fn from(bucket: Bucket) -> Self {
        match bucket {
            Bucket::Chat => Self::Chat,
            Bucket::Api => Self::Api,
        }
    }
}

/// A quota tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum TierName {
    /// The default tier.
    Free,
    /// Paying students.
    Premium,
    /// Operators.
    Admin,
}

impl From<crate::domain::principal::Tier> for TierName {
    fn from(tier: crate::domain::principal::Tier) -> Self {
        use crate::domain::principal::Tier;
        match tier {
            Tier::Free => Self::Free,
            Tier::Premium => Self::Premium,
            Tier::Admin => Self::Admin,
        }
    }
}

/// One window as reported by the status endpoint.
#[derive(Debug, poem_openapi::Object)]
pub struct WindowStatus {
    /// `{bucket}-{period}`, as in `RateLimit-Policy`.
    pub name: String,
    /// The window's length.
    pub window: WindowName,
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the window is fully replenished.
    pub reset: u64,
}

/// A bucket's windows for the caller.
#[derive(Debug, poem_openapi::Object)]
pub struct BucketStatus {
    /// The bucket.
    pub bucket: BucketName,
    /// Its windows; a bucket without windows is unlimited and not listed.
    pub windows: Vec<WindowStatus>,
}

/// The caller's quotas.
#[derive(Debug, poem_openapi::Object)]
pub struct RateLimitStatus {
    /// Quota tier.
    pub tier: TierName,
    /// Limited buckets.
    pub buckets: Vec<BucketStatus>,
    /// The daily budget of model tokens (absent only on a service built without budgets).
    #[oai(skip_serializing_if_is_none)]
    pub token_budget: Option<TokenBudgetStatus>,
}

/// Answer of `GET /v1/rate-limit`.
#[derive(poem_openapi::ApiResponse)]
pub enum StatusResponse {
    /// The caller's quotas now.
    #[oai(status = 200)]
    Ok(Json<RateLimitStatus>),
}

/// The quota status endpoint.
#[derive(Debug, Default)]
pub struct QuotaApi;

impl QuotaApi {
    /// The endpoint.
    pub fn new() -> Self {
        Self
    }
}

#[poem_openapi::OpenApi(
    prefix_path = "/v1",
    tag = "super::tags::ApiTags::Threads",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl QuotaApi {
    /// Quota status
    ///
    /// Every window of the caller's buckets with limit, remaining and reset, and the daily token
    /// budget with what was used today, without consuming anything.
    #[oai(path = "/rate-limit", method = "get", operation_id = "getRateLimit")]
    async fn status(&self, req: &Request) -> Result<StatusResponse, ApiError> {
        let who = super::auth::principal(req)?;
        let Some(quotas) = req.data::<Arc<QuotaService>>() else {
            return Err(ApiError::unavailable(
                "service_unavailable",
                "quotas are not configured",
            ));
        };
        let buckets = quotas
            .status(&who.user_id, who.tier)
            .await
            .into_iter()
            .map(|o| BucketStatus {
                bucket: o.bucket.into(),
                windows: o
                    .windows
                    .iter()
                    .zip(&o.decision.windows)
                    .map(|(w, s)| WindowStatus {
                        name: format!("{}-{}", o.bucket.as_str(), period_name(w.period)),
                        window: WindowName::of(w.period),
                        limit: w.limit,
                        remaining: s.remaining,
                        reset: ceil_secs(s.reset_after),
                    })
                    .collect(),
            })
            .collect();
        let token_budget = budget::budget_status(req, &who).await;
        Ok(StatusResponse::Ok(Json(RateLimitStatus {
            tier: who.tier.into(),
            buckets,
            token_budget,
        })))
    }
}
