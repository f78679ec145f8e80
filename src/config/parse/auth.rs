//! The identity section: JWKS, SSO, accepted algorithms, issuer/audience, userinfo, and the
//! development principal (which depends on whether any of them is configured).

use jsonwebtoken::Algorithm;

use super::Collector;
use super::sections::bounded;
use crate::config::identity::IdentityConfig;
use crate::config::{AuthConfig, DevConfig, RawEnv};

/// Claims `ALLOW_UNCHECKED_JWT_CLAIMS` may name, with the variable that would check each.
const CHECKABLE_CLAIMS: &[(&str, &str)] = &[("iss", "JWT_ISSUER"), ("aud", "JWT_AUDIENCE")];

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

/// `ALLOW_UNCHECKED_JWT_CLAIMS`: claims named there may stay unconfigured in production. The
/// value must name each claim (`iss`, `aud`), so no generic `true` can switch the checks off.
fn unchecked_claims(
    c: &mut Collector,
    raw: &RawEnv,
    issuer: Option<&String>,
    audience: Option<&String>,
) -> Vec<String> {
    let claims: Vec<&str> = CHECKABLE_CLAIMS.iter().map(|(claim, _)| *claim).collect();
    let named = c.names(
        "ALLOW_UNCHECKED_JWT_CLAIMS",
        &raw.allow_unchecked_jwt_claims,
        &claims,
    );
    for (claim, var) in CHECKABLE_CLAIMS {
        let configured = if *claim == "iss" { issuer } else { audience };
        if configured.is_some() && named.iter().any(|n| n == claim) {
            c.push(
                "ALLOW_UNCHECKED_JWT_CLAIMS",
                format!("names {claim}, but {var} is set: remove one of the two"),
            );
        }
    }
    named
}

/// `JWKS_URL`, `SSO_URL`, `JWT_*`, `JWKS_*`, `USERINFO_URL`, `ALLOW_UNCHECKED_JWT_CLAIMS`.
pub(super) fn auth(c: &mut Collector, raw: &RawEnv, prod: bool) -> AuthConfig {
    let jwks_url = optional_url(c, "JWKS_URL", &raw.jwks_url);
    let sso_url = optional_url(c, "SSO_URL", &raw.sso_url);
    let userinfo_url = optional_url(c, "USERINFO_URL", &raw.userinfo_url).or_else(|| {
        sso_url
            .as_ref()
            .map(|sso| format!("{sso}/api/auth/oauth2/userinfo"))
    });
    let secs = |c: &mut Collector, var: &str, value: &Option<String>, default: u64| {
        c.secs(var, value, default, (0, 30 * 86_400))
    };
    let issuer = claim(c, "JWT_ISSUER", &raw.jwt_issuer);
    let audience = claim(c, "JWT_AUDIENCE", &raw.jwt_audience);
    let unchecked_claims = unchecked_claims(c, raw, issuer.as_ref(), audience.as_ref());
    if prod && (jwks_url.is_some() || sso_url.is_some()) {
        // Without them any token the SSO signs, for any of its applications, is accepted here.
        for (claim, var) in CHECKABLE_CLAIMS {
            let configured = if *claim == "iss" { &issuer } else { &audience };
            if configured.is_none() && !unchecked_claims.iter().any(|n| n == claim) {
                c.push(
                    var,
                    format!(
                        "must be set when APP_ENV=production and JWTs are accepted (SSO_URL or \
                         JWKS_URL): tokens the SSO issues for other applications would be \
                         accepted; ALLOW_UNCHECKED_JWT_CLAIMS={claim} accepts that risk"
                    ),
                );
            }
        }
    }
    AuthConfig {
        jwks_url,
        sso_url,
        algorithms: algorithms(c, &raw.jwt_algorithms),
        issuer,
        audience,
        jwks_cache_ttl: secs(c, "JWKS_CACHE_TTL_SECS", &raw.jwks_cache_ttl_secs, 3_600),
        jwks_min_refresh: secs(c, "JWKS_MIN_REFRESH_SECS", &raw.jwks_min_refresh_secs, 30),
        jwks_max_stale: secs(c, "JWKS_MAX_STALE_SECS", &raw.jwks_max_stale_secs, 86_400),
        userinfo_url,
        unchecked_claims,
    }
}

/// Whether `host` only accepts connections from this machine.
fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `DEV_MODE` (alias `TEST_MODE`) and `DEV_USER_*`. Unset, the development principal is on
/// only in development, on a loopback bind, with no token verifier and no own sign-in: a
/// service others can reach, or one with real identities, must never take `X-User-ID` at its
/// word unless told so explicitly.
///
/// `TEST_MODE` (seed 003) and `DEV_MODE` are two names of one switch: either may be set, both
/// must agree when both are, and production refuses it under either name.
pub(super) fn dev(
    c: &mut Collector,
    raw: &RawEnv,
    prod: bool,
    host: &str,
    auth: &AuthConfig,
    identity: &IdentityConfig,
) -> DevConfig {
    let dev_mode = raw
        .dev_mode
        .as_ref()
        .map(|_| c.boolean("DEV_MODE", &raw.dev_mode, false));
    let test_mode = raw
        .test_mode
        .as_ref()
        .map(|_| c.boolean("TEST_MODE", &raw.test_mode, false));
    if let (Some(dev), Some(test)) = (dev_mode, test_mode)
        && dev != test
    {
        c.push(
            "TEST_MODE",
            format!(
                "is {test} but DEV_MODE is {dev}: they are two names of one switch; set one of \
                 them"
            ),
        );
    }
    let chosen = dev_mode.or(test_mode);
    let enabled = chosen
        .unwrap_or(!prod && loopback(host) && !auth.verifies_tokens() && !identity.issues_tokens());
    if prod && enabled {
        let var = if dev_mode.is_some() {
            "DEV_MODE"
        } else {
            "TEST_MODE"
        };
        c.push(
            var,
            "must be false when APP_ENV=production (it trusts X-User-ID headers)",
        );
    }
    DevConfig {
        enabled,
        explicit: chosen == Some(true),
        user_id: bounded(c, "DEV_USER_ID", &raw.dev_user_id, "dev-user"),
        email: bounded(c, "DEV_USER_EMAIL", &raw.dev_user_email, "dev@localhost"),
        name: bounded(c, "DEV_USER_NAME", &raw.dev_user_name, "Dev Student"),
    }
}
