//! The identity side of the composition root: the verifier chain (JWKS, userinfo, API keys)
//! and the per-address budget of refused attempts.

use std::sync::Arc;

use crate::adapters::jwks::{JwksSettings, JwksVerifier};
use crate::adapters::rate_limit_memory::MemoryRateLimiter;
use crate::adapters::userinfo::{self, UserinfoVerifier};
use crate::app::auth::{AuthMetrics, Authenticator};
use crate::app::identity::tokens::LocalVerifier;
use crate::app::preauth::PreauthLimiter;
use crate::config::Config;
use crate::domain::ports::{ApiKeyStore, RateLimiter, TokenVerifier};
use crate::http::metrics::Metrics;

/// The verifier chain: JWKS when an SSO or key set URL is configured, userinfo for opaque
/// tokens when a userinfo URL is known, API keys from `keys`.
pub(super) fn authenticator(
    config: &Config,
    keys: Option<Arc<dyn ApiKeyStore>>,
    own: Option<Arc<LocalVerifier>>,
    metrics: &Metrics,
) -> anyhow::Result<Arc<Authenticator>> {
    let auth = &config.auth;
    let jwt: Option<Arc<dyn TokenVerifier>> = if auth.verifies_jwts() {
        // Production cannot get here with one unset unless ALLOW_UNCHECKED_JWT_CLAIMS says so.
        if auth.issuer.is_none() || auth.audience.is_none() {
            tracing::warn!(
                issuer_set = auth.issuer.is_some(),
                audience_set = auth.audience.is_some(),
                unchecked = ?auth.unchecked_claims,
                "JWT_ISSUER or JWT_AUDIENCE is unset: tokens the SSO issues for other \
                 applications are accepted here"
            );
        }
        // The key set is fetched from JWKS_URL when set, else from the SSO.
        let fetched = auth.jwks_url.as_deref().or(auth.sso_url.as_deref());
        Some(Arc::new(JwksVerifier::new(JwksSettings {
            jwks_url: auth.jwks_url.clone(),
            sso_url: auth.sso_url.clone(),
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            algorithms: auth.algorithms.clone(),
            cache_ttl: auth.jwks_cache_ttl,
            min_refresh: auth.jwks_min_refresh,
            max_stale: auth.jwks_max_stale,
            https_only: https_only(config, fetched),
        })?))
    } else {
        None
    };
    let opaque: Option<Arc<dyn TokenVerifier>> = match &auth.userinfo_url {
        Some(url) => Some(Arc::new(UserinfoVerifier::new(
            url.clone(),
            userinfo::CACHE_TTL,
            https_only(config, Some(url)),
        )?)),
        None => None,
    };
    if jwt.is_none() && opaque.is_none() && own.is_none() && !config.dev.enabled {
        tracing::warn!(
            "no SSO configured (SSO_URL, JWKS_URL, USERINFO_URL): only API keys are accepted"
        );
    }
    if config.dev.enabled && config.dev.explicit {
        tracing::warn!(
            host = %config.host,
            "DEV_MODE=true: requests without credentials act as the user named by X-User-ID \
             (or ?user_id=); anyone who can reach this address can act as any user"
        );
    } else if config.dev.enabled {
        tracing::info!(
            "development principal on (loopback bind, no SSO): requests without credentials act \
             as X-User-ID, ?user_id= or DEV_USER_ID"
        );
    }
    let mut authenticator = Authenticator::new(jwt, opaque, keys)
        .with_metrics(AuthMetrics::new(Some(metrics.registry())));
    if let Some(own) = own {
        authenticator = authenticator.with_own_tokens(own);
    }
    if let Some(limiter) = preauth_limiter(config, metrics) {
        authenticator = authenticator.with_preauth(limiter);
    }
    Ok(Arc::new(authenticator))
}

/// The budget of refused attempts per client address, counted in process: every replica
/// gives an address its own budget (a shared count would cost a Redis round trip on every
/// authenticated request, to stop what is already a trickle per replica). `None` when
/// `PREAUTH_RATE_LIMIT=unlimited`: then no request does any of the throttling work.
fn preauth_limiter(config: &Config, metrics: &Metrics) -> Option<Arc<PreauthLimiter>> {
    if config.rate_limits.preauth.is_empty() {
        return None;
    }
    // At most a million stored timestamps (about 8 MB): some 30,000 addresses at a full budget
    // of 30; past that the least used addresses are forgotten and start afresh.
    let counts: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(1_000_000));
    Some(Arc::new(PreauthLimiter::new(
        config.rate_limits.preauth.clone(),
        counts,
        Some(metrics.registry()),
    )))
}

/// Whether the client of an upstream at `url` must refuse plain http (the URL, a discovered
/// one, or a redirect): in production, for every upstream configured with https. The
/// configuration already refuses an http upstream there unless `ALLOW_INSECURE_UPSTREAMS`
/// names it, so this is exactly "not exempted", decided from the URL the client really uses
/// (a userinfo URL derived from `SSO_URL` included) instead of a second copy of that rule.
fn https_only(config: &Config, url: Option<&str>) -> bool {
    config.is_production()
        && url.is_some_and(|u| url::Url::parse(u).is_ok_and(|u| u.scheme() == "https"))
}
