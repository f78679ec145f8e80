//! Pre-authentication throttling on the wire: the client address a refused attempt is charged
//! to (through `TRUSTED_PROXIES`), and the 429 an address over its budget gets before any
//! credential is looked at (see `app::preauth`).

use std::future::Future;
use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::{AuthState, Refusal};
use crate::app::auth::Caller;
use crate::app::preauth::{Attempt, Throttled, client_key};
use crate::http::error::ApiError;

/// The signed webhook: public for the guard, but a bad signature is a refused attempt.
pub const WEBHOOK_PATH: &str = "/webhooks/github";

/// Starts an attempt of `req`'s client address; `Ok(None)` when no budget is configured.
async fn admit(req: &Request, state: &AuthState) -> Result<Option<Attempt>, Throttled> {
    let Some(limiter) = state.authenticator.preauth() else {
        return Ok(None);
    };
    let trusted = &state.config.rate_limits.trusted_proxies;
    // Without a socket address (a test harness, a Unix socket) every request is one client.
    let key =
        crate::http::client::client_ip(req, trusted).map_or_else(|| "-".to_owned(), client_key);
    limiter.admit(&key).await.map(Some)
}

/// Runs `authenticate` unless the client address is over its budget of refused attempts, and
/// charges a refusal to that budget. The future is lazy: when the address is turned away, no
/// credential is parsed or looked up.
///
/// # Errors
/// [`Throttled`] (answer it as is) when the address is over budget.
pub async fn gate(
    req: &Request,
    state: &AuthState,
    authenticate: impl Future<Output = Result<Caller, Refusal>>,
) -> Result<Result<Caller, Refusal>, Throttled> {
    let attempt = admit(req, state).await?;
    let outcome = authenticate.await;
    if let (Err(_), Some(attempt)) = (&outcome, attempt) {
        attempt.refused().await;
    }
    Ok(outcome)
}

/// A public route: passed through, except the signed webhook and the own sign-in (`/auth/*`),
/// where an address over budget is turned away before any work, and a refusal is charged: a
/// 401 of the webhook (bad signature), any 4xx but a 429 of a sign-in step
/// (`/auth/{provider}/login` and `/callback`: a forged state, a replayed code, a refused
/// redirect). Refresh and logout refusals are not charged: a refresh token cannot be guessed,
/// and a page that asks "am I signed in?" with no session must not spend the budget of a
/// school behind one address. Successes are never charged.
///
/// # Errors
/// Only errors of the inner endpoint.
pub async fn public<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    state: &AuthState,
) -> poem::Result<Response> {
    let path = req.uri().path();
    let sign_in = path.starts_with("/auth/");
    let sign_in_step = sign_in && (path.ends_with("/login") || path.ends_with("/callback"));
    if path != WEBHOOK_PATH && !sign_in {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let attempt = match admit(&req, state).await {
        Ok(attempt) => attempt,
        Err(throttled) => return Ok(throttled.into_response()),
    };
    let answer = ep.call(req).await.map(IntoResponse::into_response);
    let status = match &answer {
        Ok(response) => response.status(),
        Err(err) => err.status(),
    };
    let refused = if sign_in {
        sign_in_step
            && status.is_client_error()
            && status != poem::http::StatusCode::TOO_MANY_REQUESTS
    } else {
        status == poem::http::StatusCode::UNAUTHORIZED
    };
    if let Some(attempt) = attempt
        && refused
    {
        attempt.refused().await;
    }
    answer
}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        ApiError::rate_limited(
            format!(
                "too many refused or unauthenticated requests from this address: {} per {}; \
                 retry later",
                self.limit, self.window
            ),
            self.limit,
            &self.window,
            self.retry_after,
        )
        .into_response()
    }
}
