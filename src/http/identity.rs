//! The own sign-in on the wire: `/auth/providers`, `/auth/{provider}/login`,
//! `/auth/{provider}/callback`, `/auth/refresh`, `/auth/logout`, `/auth/me` and
//! `/.well-known/jwks.json`. No token ever travels in a URL: the browser's refresh token lives
//! in an HttpOnly cookie, and the access token comes from `POST /auth/refresh`.

pub mod cookies;
pub mod dto;
mod me;

use std::sync::Arc;

use poem::Request;
use poem::http::header;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::error::ApiError;
use super::tags::ApiTags;
use crate::app::identity::{Callback, IdentityService, Session, SessionError, SignInError};
use crate::config::Config;
use crate::domain::identity::Provider;
pub use dto::*;
pub use me::MeApi;

/// `Cache-Control` of every answer carrying a token or a cookie.
const NO_STORE: &str = "no-store";

/// Longest `provider` path segment looked at.
const MAX_PROVIDER_LEN: usize = 16;

/// The `/auth` operations.
pub struct IdentityApi {
    identity: Option<Arc<IdentityService>>,
    config: Arc<Config>,
}

impl IdentityApi {
    /// The operations over the own sign-in (`None`: the service issues no tokens; every
    /// provider is unknown and every refresh token invalid).
    pub fn new(identity: Option<Arc<IdentityService>>, config: Arc<Config>) -> Self {
        Self { identity, config }
    }

    fn secure(&self) -> bool {
        self.config.identity.secure_cookies
    }

    fn service(&self) -> Result<&Arc<IdentityService>, ApiError> {
        self.identity
            .as_ref()
            .ok_or_else(|| ApiError::invalid_token("this service has no sign-in of its own"))
    }

    /// A cookie-carried token may only be used from an allowed origin (CSRF): a browser sends
    /// `Origin` with every POST; a non-browser client sends neither it nor `Sec-Fetch-Site`.
    fn check_origin(&self, req: &Request) -> Result<(), ApiError> {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let allowed = |o: &str| {
            self.config
                .allowed_origins
                .iter()
                .any(|a| a == o || (a == "*" && !self.config.is_production()))
        };
        let ok = match origin {
            Some(origin) => allowed(origin),
            None => req
                .headers()
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .is_none_or(|site| matches!(site, "same-origin" | "none")),
        };
        if ok {
            Ok(())
        } else {
            tracing::warn!(target: "security", event = "csrf", outcome = "refused",
                "cookie-authenticated request from an origin not in ALLOWED_ORIGINS");
            Err(ApiError::forbidden(
                "this origin may not use the session cookie (ALLOWED_ORIGINS)",
            ))
        }
    }

    /// The presented refresh token: the body's, else the cookie's (then the origin is checked).
    /// `true` when it came from the cookie.
    fn presented<'a>(
        &self,
        req: &'a Request,
        body: &'a Json<RefreshIn>,
    ) -> Result<(&'a str, bool), ApiError> {
        if let Some(token) = body.refresh_token.as_deref() {
            return Ok((token, false));
        }
        let token = cookies::read(req, cookies::REFRESH).ok_or_else(|| {
            ApiError::unauthorized("no refresh token (body or sm_refresh cookie)")
        })?;
        self.check_origin(req)?;
        Ok((token, true))
    }

    /// The sign-in use case and the provider named by the path, or 404 (also when the service
    /// has no sign-in of its own).
    fn sign_in<'a>(&self, provider: &'a str) -> Result<(&Arc<IdentityService>, &'a str), ApiError> {
        let unknown = || sign_in_error(SignInError::UnknownProvider);
        if provider.len() > MAX_PROVIDER_LEN || Provider::parse(provider).is_none() {
            return Err(unknown());
        }
        let identity = self.identity.as_ref().ok_or_else(unknown)?;
        Ok((identity, provider))
    }

    fn refresh_cookie(&self, session: &Session) -> String {
        cookies::set(
            cookies::REFRESH,
            &session.refresh_token,
            i64::try_from(session.refresh_expires_in).unwrap_or(i64::MAX),
            "Strict",
            self.secure(),
        )
    }
}

fn sign_in_error(err: SignInError) -> ApiError {
    match err {
        SignInError::UnknownProvider => ApiError::not_found("not_found", err.to_string()),
        SignInError::RedirectRefused => {
            ApiError::bad_request("redirect_not_allowed", err.to_string())
        }
        SignInError::NotStarted(_) => ApiError::bad_request("signin_not_started", err.to_string()),
        SignInError::Refused(_) => ApiError::Unauthorized(Json(super::error::ErrorBody::new(
            "signin_refused",
            err.to_string(),
        ))),
        SignInError::Disabled => ApiError::forbidden(err.to_string()),
        SignInError::Unavailable => ApiError::unavailable("auth_unavailable", err.to_string()),
    }
}

fn session_error(err: SessionError) -> ApiError {
    match err {
        SessionError::Invalid(reason) => ApiError::invalid_token(reason),
        SessionError::Superseded => ApiError::invalid_token(err.to_string()),
        SessionError::Reused => ApiError::Unauthorized(Json(super::error::ErrorBody::new(
            "refresh_token_reused",
            err.to_string(),
        ))),
        SessionError::Unavailable => ApiError::unavailable("auth_unavailable", err.to_string()),
    }
}

#[OpenApi(
    prefix_path = "/auth",
    tag = "ApiTags::Auth",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl IdentityApi {
    /// Sign-in providers
    ///
    /// What the sign-in page can offer: each enabled provider with its login URL.
    #[oai(
        path = "/providers",
        method = "get",
        operation_id = "listAuthProviders"
    )]
    async fn providers(&self) -> ProvidersResponse {
        let providers = self
            .identity
            .as_ref()
            .map(|i| i.providers())
            .unwrap_or_default()
            .into_iter()
            .map(|p| ProviderOut {
                name: p.into(),
                display_name: p.display_name().into(),
                login_url: format!("/auth/{}/login", p.as_str()),
            })
            .collect();
        ProvidersResponse::Ok(Json(ProvidersOut { providers }))
    }

    /// Start a sign-in
    ///
    /// Redirects the browser to the provider (authorization code flow with PKCE S256 and
    /// `state`; `nonce` for Google) and sets the short-lived `sm_signin` cookie that the
    /// callback checks. `redirect_to` must be on `AUTH_ALLOWED_REDIRECTS`; without it the first
    /// entry is used.
    #[oai(
        path = "/:provider/login",
        method = "get",
        operation_id = "startSignIn"
    )]
    async fn login(
        &self,
        provider: Path<String>,
        redirect_to: Query<Option<String>>,
    ) -> Result<RedirectResponse, ApiError> {
        let (identity, name) = self.sign_in(&provider.0)?;
        let started = identity
            .start(name, redirect_to.0.as_deref())
            .await
            .map_err(sign_in_error)?;
        let cookie = cookies::set(
            cookies::SIGN_IN,
            &started.cookie,
            started.max_age,
            "Lax",
            self.secure(),
        );
        Ok(RedirectResponse::Found(
            started.location,
            cookie,
            NO_STORE.into(),
        ))
    }

    /// Finish a sign-in
    ///
    /// Where the provider sends the browser back. Checks the `sm_signin` cookie and `state`,
    /// exchanges the code with the PKCE verifier, signs the user in (created at the first
    /// sign-in), sets the `sm_refresh` cookie (HttpOnly, `SameSite=Strict`, path `/auth`) and
    /// redirects to the `redirect_to` of the login. The application then calls
    /// `POST /auth/refresh` for an access token.
    #[oai(
        path = "/:provider/callback",
        method = "get",
        operation_id = "finishSignIn"
    )]
    async fn callback(
        &self,
        req: &Request,
        provider: Path<String>,
        code: Query<Option<String>>,
        state: Query<Option<String>>,
        error: Query<Option<String>>,
    ) -> Result<RedirectResponse, ApiError> {
        let (identity, name) = self.sign_in(&provider.0)?;
        let callback = Callback {
            code: code.0.as_deref(),
            state: state.0.as_deref(),
            error: error.0.as_deref(),
            cookie: cookies::read(req, cookies::SIGN_IN),
        };
        let (session, redirect_to) = identity
            .finish(name, callback)
            .await
            .map_err(sign_in_error)?;
        Ok(RedirectResponse::Found(
            redirect_to,
            self.refresh_cookie(&session),
            NO_STORE.into(),
        ))
    }

    /// Refresh the access token
    ///
    /// Rotates the refresh token (from the `sm_refresh` cookie, or from the body for clients
    /// that keep it themselves) and returns a new access token. A refresh token that was
    /// already rotated revokes the whole session (`refresh_token_reused`). Cookie-carried
    /// tokens are accepted only from `ALLOWED_ORIGINS`.
    #[oai(path = "/refresh", method = "post", operation_id = "refreshToken")]
    async fn refresh(
        &self,
        req: &Request,
        body: Json<RefreshIn>,
    ) -> Result<TokenResponse, ApiError> {
        let identity = self.service()?;
        let (token, from_cookie) = self.presented(req, &body)?;
        let session = identity.refresh(token).await.map_err(session_error)?;
        let cookie = from_cookie.then(|| self.refresh_cookie(&session));
        let out = TokenOut {
            access_token: session.access.token.clone(),
            token_type: TokenType::Bearer,
            expires_in: session.access.expires_in,
            refresh_token: (!from_cookie).then(|| session.refresh_token.clone()),
            refresh_expires_in: session.refresh_expires_in,
        };
        Ok(TokenResponse::Ok(Json(out), cookie, NO_STORE.into()))
    }

    /// Sign out
    ///
    /// Revokes the session of the refresh token (cookie or body): every refresh token of it
    /// stops working at once, its access tokens within 30 seconds. Clears the cookie.
    #[oai(path = "/logout", method = "post", operation_id = "signOut")]
    async fn logout(
        &self,
        req: &Request,
        body: Json<RefreshIn>,
    ) -> Result<LogoutResponse, ApiError> {
        let identity = self.service()?;
        let (token, _) = self.presented(req, &body)?;
        identity.logout(token).await.map_err(session_error)?;
        Ok(LogoutResponse::Done(cookies::clear(
            cookies::REFRESH,
            self.secure(),
        )))
    }
}
