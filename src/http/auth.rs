//! Who is calling: the one place a request becomes a [`Principal`].
//!
//! Until token verification lands, only the development principal exists (development profile
//! with `DEV_MODE=true`): `X-User-ID`, else `?user_id=`, else `DEV_USER_ID`.

use poem::Request;

use super::error::ApiError;
use crate::config::Config;
use crate::domain::principal::{Principal, Tier};

/// Longest accepted user or organisation id.
const MAX_ID_LEN: usize = 200;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@|".contains(&b))
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The caller of `req`.
///
/// # Errors
/// 401 when no identity can be established, 400 for a malformed id.
pub fn principal(req: &Request, config: &Config) -> Result<Principal, ApiError> {
    if !config.dev.enabled {
        return Err(ApiError::unauthorized(
            "authentication required: send Authorization: Bearer <token>",
        ));
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .map(str::to_owned)
    };
    let chosen = header("x-user-id").or_else(|| query_param(req, "user_id"));
    let user_id = chosen.clone().unwrap_or_else(|| config.dev.user_id.clone());
    if !valid_id(&user_id) {
        return Err(ApiError::bad_request(
            "invalid_user_id",
            "user id must be 1-200 characters of [A-Za-z0-9-_.:@|]",
        ));
    }
    let organization_id = match header("x-organization-id") {
        Some(org) if valid_id(&org) => Some(org),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_organization_id",
                "organization id is malformed",
            ));
        }
        None => None,
    };
    let is_default = chosen.is_none();
    Ok(Principal {
        user_id,
        organization_id,
        email: is_default.then(|| config.dev.email.clone()),
        name: is_default.then(|| config.dev.name.clone()),
        role: None,
        tier: Tier::Free,
    })
}

/// The caller of `req`, after one request is counted against its quota in `bucket`.
///
/// # Errors
/// 401/400 as [`principal`], 429 when the quota is exhausted.
pub async fn caller(
    req: &Request,
    config: &Config,
    bucket: crate::domain::rate_limit::Bucket,
) -> Result<Principal, ApiError> {
    let who = principal(req, config)?;
    super::rate_limit::enforce(req, &who, bucket).await?;
    Ok(who)
}
