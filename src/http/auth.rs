//! Who is calling: the guard in front of every protected route, and what handlers read.
//!
//! [`requirement`] is the one table of which paths need what: `/chatkit*` and `/v1/*` a
//! principal, `/admin/*` an operator (API key with the route's scope, or `X-Admin-Secret`),
//! everything else is public. The guard authenticates before any handler runs and stores the
//! [`Caller`] in the request; handlers read it with [`principal`] / [`caller`].

mod credentials;
pub mod preauth;
mod refusal;
pub mod spec;

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::ApiError;
use crate::app::auth::{AuthKind, AuthReason, Authenticator, Caller, CredentialKind, Via};
use crate::config::Config;
use crate::domain::api_key::API_SCOPE;
use crate::domain::principal::Principal;
use credentials::{dev_principal, presented};
pub use refusal::Refusal;

/// What a path needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone (health, spec, docs, metrics, signed webhooks, unknown paths).
    Public,
    /// A verified principal.
    User,
    /// An operator: an API key granting this scope (or `admin`), or the operator secret.
    Operator(&'static str),
}

/// The requirement of `path`.
pub fn requirement(path: &str) -> Requirement {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/chatkit") || under("/v1") || path == "/auth/me" {
        Requirement::User
    } else if path == "/admin/invalidate-cache" {
        Requirement::Operator("lessons:purge")
    } else if under("/admin") {
        Requirement::Operator(crate::domain::api_key::ADMIN_SCOPE)
    } else {
        Requirement::Public
    }
}

/// What the guard needs: the authentication use case and the configuration.
#[derive(Clone)]
pub struct AuthState {
    /// Verifier chain.
    pub authenticator: Arc<Authenticator>,
    /// Validated configuration (development principal, operator secret).
    pub config: Arc<Config>,
}

/// `ep` behind the guard.
pub fn protect<E: Endpoint + 'static>(ep: E, state: AuthState) -> impl Endpoint + 'static {
    use poem::EndpointExt;
    ep.around(move |ep, req| guard(ep, req, state.clone()))
}

/// Middleware: authenticates requests to protected paths, answers 401/403/503 itself.
///
/// # Errors
/// Only errors of the inner endpoint.
pub async fn guard<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    state: AuthState,
) -> poem::Result<Response> {
    let kind = credential_kind(&req);
    // An address over its budget of refused attempts is turned away before any lookup.
    let gated = match requirement(req.uri().path()) {
        Requirement::Public => return preauth::public(ep, req, &state).await,
        Requirement::User => preauth::gate(&req, &state, user(&req, &state)).await,
        Requirement::Operator(scope) => {
            preauth::gate(&req, &state, operator(&req, &state, scope)).await
        }
    };
    let outcome = match gated {
        Ok(outcome) => outcome,
        Err(throttled) => {
            let metrics = state.authenticator.metrics();
            metrics.record(kind, AuthReason::Throttled);
            return Ok(throttled.into_response());
        }
    };
    let counted = outcome
        .as_ref()
        .map_or_else(Refusal::reason, |_| AuthReason::Accepted);
    state.authenticator.metrics().record(kind, counted);
    match outcome {
        Ok(caller) => {
            tracing::debug!(user_id = %caller.principal.user_id, via = ?caller.via, "authenticated");
            req.extensions_mut().insert(caller);
            ep.call(req).await.map(IntoResponse::into_response)
        }
        Err(refusal) => {
            refusal.log(&req, &state.config.rate_limits.trusted_proxies);
            Ok(refusal.into_response())
        }
    }
}

/// What the request presented, for `auth_attempts_total` (a closed set, whatever was sent).
fn credential_kind(req: &Request) -> AuthKind {
    if req.headers().contains_key("x-admin-secret") {
        return AuthKind::AdminSecret;
    }
    match presented(req) {
        Ok(None) => AuthKind::None,
        Err(_) => AuthKind::Malformed,
        Ok(Some(credential)) => match credential.kind() {
            CredentialKind::ApiKey => AuthKind::ApiKey,
            CredentialKind::Jwt => AuthKind::Jwt,
            CredentialKind::Opaque => AuthKind::Opaque,
        },
    }
}

/// A principal for a `/chatkit` or `/v1` request.
async fn user(req: &Request, state: &AuthState) -> Result<Caller, Refusal> {
    let credential = presented(req)?;
    let dev = state.config.dev.enabled;
    match credential {
        None if dev => dev_principal(req, &state.config),
        None => Err(Refusal::missing()),
        // A presented credential is always verified, in every profile: one that fails (or that
        // nothing here can check) is a 401, never a silent fall-back to the development
        // principal, which would let a forged or stale token act as X-User-ID.
        Some(credential) => {
            let caller = state
                .authenticator
                .authenticate(credential)
                .await
                .map_err(|e| Refusal::from_auth(e, credential.value()))?;
            // A key made for operators (e.g. the purge workflow) cannot chat.
            if matches!(caller.via, Via::ApiKey { .. }) && !caller.allows(API_SCOPE) {
                return Err(Refusal::insufficient_scope(
                    "this API key lacks the \"api\" scope needed here",
                    Some(credential.value()),
                ));
            }
            Ok(caller)
        }
    }
}

/// An operator for an `/admin` request.
async fn operator(
    req: &Request,
    state: &AuthState,
    scope: &'static str,
) -> Result<Caller, Refusal> {
    let secret = req
        .headers()
        .get("x-admin-secret")
        .and_then(|v| v.to_str().ok());
    if let Some(secret) = secret {
        let expected = state.config.lessons.admin_secret.as_ref();
        return if super::admin::secret_matches(Some(secret), expected) {
            Ok(Caller::operator())
        } else {
            Err(Refusal::wrong_secret(secret))
        };
    }
    let Some(credential) = presented(req)? else {
        return Err(Refusal::missing());
    };
    let caller = state
        .authenticator
        .authenticate(credential)
        .await
        .map_err(|e| Refusal::from_auth(e, credential.value()))?;
    if caller.allows(scope) {
        Ok(caller)
    } else {
        Err(Refusal::insufficient_scope(
            &format!("this endpoint needs an API key with the {scope:?} or \"admin\" scope"),
            Some(credential.value()),
        ))
    }
}

/// The caller the guard admitted, with how it was authenticated.
///
/// # Errors
/// 401 when the request did not pass the guard (a route missing from [`requirement`]).
pub fn admitted(req: &Request) -> Result<&Caller, ApiError> {
    req.extensions().get::<Caller>().ok_or_else(|| {
        tracing::error!(
            path = super::middleware::log_path(req.uri().path()),
            "protected handler reached without the guard"
        );
        ApiError::unauthorized("authentication required")
    })
}

/// The principal the guard admitted.
///
/// # Errors
/// 401 as [`admitted`].
pub fn principal(req: &Request) -> Result<Principal, ApiError> {
    admitted(req).map(|caller| caller.principal.clone())
}

/// The caller of `req`, after one request is counted against its quota in `bucket`.
///
/// # Errors
/// 401 as [`principal`], 429 when the quota is exhausted.
pub async fn caller(
    req: &Request,
    bucket: crate::domain::rate_limit::Bucket,
) -> Result<Principal, ApiError> {
    let who = principal(req)?;
    super::rate_limit::enforce(req, &who, bucket).await?;
    Ok(who)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_the_requirement_of_its_family() {
        assert_eq!(requirement("/chatkit"), Requirement::User);
        assert_eq!(requirement("/v1/threads/x"), Requirement::User);
        assert_eq!(requirement("/v1"), Requirement::User);
        assert_eq!(requirement("/auth/me"), Requirement::User);
        assert_eq!(
            requirement("/admin/invalidate-cache"),
            Requirement::Operator("lessons:purge")
        );
        assert_eq!(requirement("/admin/other"), Requirement::Operator("admin"));
        for public in [
            "/",
            "/health",
            "/health/ready",
            "/openapi.json",
            "/docs",
            "/metrics",
            "/webhooks/github",
            "/v1x",
            "/chatkitty",
            "/auth/refresh",
            "/auth/github/login",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(requirement(public), Requirement::Public, "{public}");
        }
    }
}
