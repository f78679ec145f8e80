//! The identity section: JWKS, SSO, accepted algorithms, issuer/audience, userinfo.

use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::Collector;
use crate::config::{AuthConfig, RawEnv};

/// Algorithms accepted when `JWT_ALGORITHMS` is unset.
const DEFAULT_ALGORITHMS: &str = "RS256,ES256,EdDSA";

/// Asymmetric algorithms a key set can vouch for.
const ASYMMETRIC: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// An optional http(s) URL without a trailing slash.
fn optional_url(c: &mut Collector, var: &str, raw: &Option<String>) -> Option<String> {
    let value = raw.as_deref()?.trim().trim_end_matches('/').to_string();
    if !url::Url::parse(&value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    {
        c.push(var, format!("{value:?} is not an http(s) URL"));
    }
    Some(value)
}

fn algorithms(c: &mut Collector, raw: &Option<String>) -> Vec<Algorithm> {
    let spec = raw.as_deref().unwrap_or(DEFAULT_ALGORITHMS);
    let mut chosen = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match ASYMMETRIC
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        {
            Some((_, alg)) if !chosen.contains(alg) => chosen.push(*alg),
            Some(_) => {}
            None if name.to_ascii_uppercase().starts_with("HS") || name == "none" => c.push(
                "JWT_ALGORITHMS",
                format!(
                    "{name} is never accepted: tokens must be signed with a published public key"
                ),
            ),
            None => {
                let known: Vec<&str> = ASYMMETRIC.iter().map(|(k, _)| *k).collect();
                c.push(
                    "JWT_ALGORITHMS",
                    format!("{name:?} is not one of {}", known.join(", ")),
                );
            }
        }
    }
    if chosen.is_empty() && raw.is_some() {
        c.push("JWT_ALGORITHMS", "lists no accepted algorithm");
    }
    chosen
}

fn claim(c: &mut Collector, var: &str, raw: &Option<String>) -> Option<String> {
    let value = raw.as_deref()?.trim().to_string();
    if value.len() > 500 {
        c.push(var, "must be at most 500 characters");
    }
    Some(value)
}

/// `JWKS_URL`, `SSO_URL`, `JWT_*`, `JWKS_*`, `USERINFO_URL`.
pub(super) fn auth(c: &mut Collector, raw: &RawEnv) -> AuthConfig {
    let jwks_url = optional_url(c, "JWKS_URL", &raw.jwks_url);
    let sso_url = optional_url(c, "SSO_URL", &raw.sso_url);
    let userinfo_url = optional_url(c, "USERINFO_URL", &raw.userinfo_url).or_else(|| {
        sso_url
            .as_ref()
            .map(|sso| format!("{sso}/api/auth/oauth2/userinfo"))
    });
    let secs = |c: &mut Collector, var: &str, value: &Option<String>, default: u64| {
        Duration::from_secs(c.number(var, value, default, (0, 30 * 86_400)))
    };
    AuthConfig {
        jwks_url,
        sso_url,
        algorithms: algorithms(c, &raw.jwt_algorithms),
        issuer: claim(c, "JWT_ISSUER", &raw.jwt_issuer),
        audience: claim(c, "JWT_AUDIENCE", &raw.jwt_audience),
        jwks_cache_ttl: secs(c, "JWKS_CACHE_TTL_SECS", &raw.jwks_cache_ttl_secs, 3_600),
        jwks_min_refresh: secs(c, "JWKS_MIN_REFRESH_SECS", &raw.jwks_min_refresh_secs, 30),
        jwks_max_stale: secs(c, "JWKS_MAX_STALE_SECS", &raw.jwks_max_stale_secs, 86_400),
        userinfo_url,
    }
}
