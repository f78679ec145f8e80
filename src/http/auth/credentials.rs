//! Reading credentials off a request, and the development principal.

use poem::Request;

use super::Refusal;
use crate::app::auth::{Caller, Credential, Via};
use crate::config::Config;
use crate::domain::ports::InvalidReason;
use crate::domain::principal::{Principal, Tier};

/// Longest accepted user or organisation id of the development principal.
const MAX_ID_LEN: usize = 200;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@|".contains(&b))
}

fn header<'a>(req: &'a Request, name: &str) -> Result<Option<&'a str>, Refusal> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|v| Some(v.trim())).map_err(|_| {
            Refusal::invalid(
                InvalidReason::Malformed,
                &format!("{name} is not valid text"),
                None,
            )
        }),
    }
}

/// The credential a request presents: `X-API-Key` or `Authorization: Bearer …`.
///
/// # Errors
/// 401 for an `Authorization` header of another scheme or unreadable bytes, and for a request
/// presenting both headers: only one would be verified, and a credential presented is always
/// verified (a bad bearer token beside a good key must not pass unnoticed).
pub(super) fn presented(req: &Request) -> Result<Option<Credential<'_>>, Refusal> {
    let authorization = match (header(req, "x-api-key")?, header(req, "authorization")?) {
        (Some(_), Some(_)) => {
            return Err(Refusal::invalid(
                InvalidReason::Malformed,
                "present one credential: X-API-Key or Authorization, not both",
                None,
            ));
        }
        (Some(key), None) => return Ok(Some(Credential::ApiKey(key))),
        (None, None) => return Ok(None),
        (None, Some(authorization)) => authorization,
    };
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::invalid(
            InvalidReason::Malformed,
            "Authorization must use the Bearer scheme",
            None,
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Refusal::invalid(
            InvalidReason::Malformed,
            "empty bearer token",
            None,
        ));
    }
    Ok(Some(Credential::Bearer(token)))
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The development principal (development profile only, on a loopback bind without an SSO or
/// with an explicit `DEV_MODE=true`; only for requests presenting no credential): `X-User-ID`, else
/// `?user_id=`, else `DEV_USER_ID`; `X-Organization-ID` is honoured only here.
///
/// # Errors
/// 400 for a malformed user or organisation id.
pub(super) fn dev_principal(req: &Request, config: &Config) -> Result<Caller, Refusal> {
    let chosen = header(req, "x-user-id")?
        .map(str::to_owned)
        .or_else(|| query_param(req, "user_id"));
    let user_id = chosen.clone().unwrap_or_else(|| config.dev.user_id.clone());
    if !valid_id(&user_id) {
        return Err(Refusal::bad_request(
            "invalid_user_id",
            "user id must be 1-200 characters of [A-Za-z0-9-_.:@|]",
        ));
    }
    let organization_id = match header(req, "x-organization-id")? {
        Some(org) if valid_id(org) => Some(org.to_owned()),
        Some(_) => {
            return Err(Refusal::bad_request(
                "invalid_organization_id",
                "organization id is malformed",
            ));
        }
        None => None,
    };
    let is_default = chosen.is_none();
    Ok(Caller {
        principal: Principal {
            user_id,
            organization_id,
            email: is_default.then(|| config.dev.email.clone()),
            name: is_default.then(|| config.dev.name.clone()),
            role: None,
            tier: Tier::Free,
        },
        via: Via::Development,
    })
}
