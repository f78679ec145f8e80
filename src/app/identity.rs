//! The own sign-in: GitHub or Google through the authorization code flow with PKCE, then
//! short-lived access tokens and rotating refresh tokens with reuse detection.
//!
//! A session is a refresh token family: sign-in starts one, every `refresh` replaces its
//! current token by a new one, and presenting a token that was already replaced revokes the
//! whole family (a stolen token was used, or the legitimate client is replaying one). Access
//! tokens carry the family as `sid`, so they stop working within
//! [`tokens::SESSION_RECHECK`] of a logout, a reuse detection, an account deletion or a
//! disabled account.

pub mod events;
pub mod pending;
pub mod redirects;
pub mod secrets;
mod sessions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::domain::identity::{Provider, USER_ID_PREFIX, User};
use crate::domain::ports::{OAuthError, OAuthProvider, RefreshTokenStore, StoreError, UserStore};
pub use events::AuthEvents;
use pending::{PENDING_TTL_SECS, PendingSignIn};
pub use sessions::{Session, SessionError};
use tokens::{SessionCache, TokenIssuer};

/// What the use case needs besides its ports.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Public base of the callbacks (`{base}/auth/{provider}/callback`).
    pub redirect_base_url: String,
    /// Where a finished sign-in may return to.
    pub allowed_redirects: Vec<String>,
    /// A rotated refresh token presented again within this time of its rotation is refused
    /// without revoking the session (two tabs refreshing at once, a retried refresh whose
    /// answer was lost); later it is reuse. Zero: always reuse.
    pub reuse_grace: Duration,
}

/// Why a sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The provider is not one of `OAUTH2_PROVIDERS`.
    #[error("unknown sign-in provider")]
    UnknownProvider,
    /// `redirect_to` is not on the allow-list (or there is no default).
    #[error("redirect_to is not an allowed return address")]
    RedirectRefused,
    /// The callback does not belong to a sign-in this browser started (no, forged or expired
    /// cookie, another provider, or a `state` that does not match).
    #[error("{0}")]
    NotStarted(&'static str),
    /// The provider refused (cancelled at the provider, bad or replayed code, wrong PKCE
    /// verifier, forged ID token).
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The account was disabled by an operator.
    #[error("this account is disabled")]
    Disabled,
    /// The provider or the database cannot be reached now.
    #[error("sign-in is unavailable right now; try again")]
    Unavailable,
}

impl SignInError {
    /// The bounded reason label of the security event.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::RedirectRefused => "redirect_refused",
            Self::NotStarted(_) => "state_mismatch",
            Self::Refused(_) => "provider_refused",
            Self::Disabled => "disabled",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A sign-in that was started: where to send the browser and the cookie to set.
#[derive(Debug, Clone)]
pub struct Started {
    /// The provider's authorization URL.
    pub location: String,
    /// The sealed [`PendingSignIn`] for the cookie.
    pub cookie: String,
    /// Cookie lifetime in seconds.
    pub max_age: i64,
}

/// The own identity use cases.
pub struct IdentityService {
    issuer: TokenIssuer,
    users: Arc<dyn UserStore>,
    tokens: Arc<dyn RefreshTokenStore>,
    providers: Vec<Arc<dyn OAuthProvider>>,
    settings: IdentitySettings,
    events: AuthEvents,
    seen: SessionCache,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("providers", &self.providers())
            .finish_non_exhaustive()
    }
}

impl IdentityService {
    /// The use cases over their ports.
    pub fn new(
        issuer: TokenIssuer,
        users: Arc<dyn UserStore>,
        tokens: Arc<dyn RefreshTokenStore>,
        providers: Vec<Arc<dyn OAuthProvider>>,
        settings: IdentitySettings,
        events: AuthEvents,
        seen: SessionCache,
    ) -> Self {
        Self {
            issuer,
            users,
            tokens,
            providers,
            settings,
            events,
            seen,
        }
    }

    /// The token issuer (its keys serve `/.well-known/jwks.json`).
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The security events.
    pub fn events(&self) -> &AuthEvents {
        &self.events
    }

    /// The enabled providers, in configuration order.
    pub fn providers(&self) -> Vec<Provider> {
        self.providers.iter().map(|p| p.provider()).collect()
    }

    fn provider(&self, name: &str) -> Result<&Arc<dyn OAuthProvider>, SignInError> {
        let wanted = Provider::parse(name).ok_or(SignInError::UnknownProvider)?;
        self.providers
            .iter()
            .find(|p| p.provider() == wanted)
            .ok_or(SignInError::UnknownProvider)
    }

    fn callback_url(&self, provider: Provider) -> String {
        format!(
            "{}/auth/{}/callback",
            self.settings.redirect_base_url,
            provider.as_str()
        )
    }

    /// Starts a sign-in at `provider` that returns to `redirect_to`.
    ///
    /// # Errors
    /// [`SignInError::UnknownProvider`], [`SignInError::RedirectRefused`],
    /// [`SignInError::Unavailable`] (Google's discovery document cannot be had).
    pub async fn start(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
    ) -> Result<Started, SignInError> {
        let result = self.try_start(provider, redirect_to).await;
        if let Err(err) = &result {
            self.events.sign_in_failed(provider, err);
        }
        result
    }

    async fn try_start(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
    ) -> Result<Started, SignInError> {
        let oauth = self.provider(provider)?;
        let redirect_to =
            redirects::allowed_redirect(&self.settings.allowed_redirects, redirect_to)
                .ok_or(SignInError::RedirectRefused)?;
        let start = oauth
            .start(&self.callback_url(oauth.provider()))
            .await
            .map_err(provider_error)?;
        let pending = PendingSignIn {
            provider: oauth.provider(),
            state: start.state,
            verifier: start.pkce_verifier,
            nonce: start.nonce,
            redirect_to,
            expires: Utc::now().timestamp() + PENDING_TTL_SECS,
        };
        Ok(Started {
            location: start.url,
            cookie: pending.seal(self.issuer.keys().cookie_key()),
            max_age: PENDING_TTL_SECS,
        })
    }

    /// Finishes a sign-in at its callback: checks the cookie and `state`, exchanges the code,
    /// signs the user in (creating or linking it) and opens a session. Returns the session and
    /// where to send the browser.
    ///
    /// # Errors
    /// Every [`SignInError`]; each is logged and counted as a security event.
    pub async fn finish(
        &self,
        provider: &str,
        callback: Callback<'_>,
    ) -> Result<(Session, String), SignInError> {
        let result = self.try_finish(provider, callback).await;
        match &result {
            Ok((session, _)) => self.events.signed_in(provider, &session.user.id),
            Err(err) => self.events.sign_in_failed(provider, err),
        }
        result
    }

    async fn try_finish(
        &self,
        provider: &str,
        callback: Callback<'_>,
    ) -> Result<(Session, String), SignInError> {
        let oauth = self.provider(provider)?;
        let cookie = callback.cookie.ok_or(SignInError::NotStarted(
            "no sign-in in progress in this browser",
        ))?;
        let pending = PendingSignIn::open(cookie, self.issuer.keys().cookie_key())
            .map_err(SignInError::NotStarted)?;
        if pending.provider != oauth.provider() {
            return Err(SignInError::NotStarted(
                "the sign-in was started at another provider",
            ));
        }
        let state_matches = callback.state.is_some_and(|state| {
            subtle::ConstantTimeEq::ct_eq(state.as_bytes(), pending.state.as_bytes()).into()
        });
        if !state_matches {
            return Err(SignInError::NotStarted(
                "state does not match the sign-in in progress",
            ));
        }
        if let Some(error) = callback.error {
            let error: String = error.chars().take(64).filter(|c| !c.is_control()).collect();
            return Err(SignInError::Refused(format!("provider answered {error:?}")));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 1024)
            .ok_or_else(|| SignInError::Refused("no authorization code".into()))?;
        let profile = oauth
            .finish(
                code,
                &pending.verifier,
                pending.nonce.as_deref(),
                &self.callback_url(oauth.provider()),
            )
            .await
            .map_err(provider_error)?;
        let new_id = format!("{USER_ID_PREFIX}{}", uuid::Uuid::now_v7().simple());
        let user = self
            .users
            .sign_in(&profile, &new_id, Utc::now())
            .await
            .map_err(store_error)?;
        if !user.is_active() {
            return Err(SignInError::Disabled);
        }
        let session = self.open_session(user).await.map_err(store_error)?;
        Ok((session, pending.redirect_to))
    }

    /// Deletes the own account `user_id` (when it is one) and revokes every refresh token of
    /// it; returns (tokens revoked, account deleted).
    ///
    /// # Errors
    /// The store's.
    pub async fn erase(&self, user_id: &str) -> Result<(u64, bool), StoreError> {
        let revoked = self.tokens.revoke_user(user_id, Utc::now()).await?;
        let deleted = self.users.delete(user_id).await?;
        self.seen.forget_all();
        if revoked > 0 || deleted {
            self.events.erased(user_id);
        }
        Ok((revoked, deleted))
    }

    /// The providers linked to the own account `user_id` (none for other principals).
    ///
    /// # Errors
    /// The store's.
    pub async fn linked_providers(&self, user_id: &str) -> Result<Vec<Provider>, StoreError> {
        Ok(self
            .users
            .identities(user_id)
            .await?
            .into_iter()
            .map(|(provider, _)| provider)
            .collect())
    }

    /// The own account `user_id`, when it is one.
    ///
    /// # Errors
    /// The store's.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        self.users.get(user_id).await
    }
}

/// What the provider sent back to the callback, and the sign-in cookie.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callback<'a> {
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `error` (the user cancelled, or the provider refused).
    pub error: Option<&'a str>,
    /// The sealed sign-in cookie.
    pub cookie: Option<&'a str>,
}

fn provider_error(err: OAuthError) -> SignInError {
    match err {
        OAuthError::Refused(reason) => SignInError::Refused(reason),
        OAuthError::Unavailable(reason) => {
            tracing::warn!(%reason, "sign-in provider unavailable");
            SignInError::Unavailable
        }
    }
}

fn store_error(err: StoreError) -> SignInError {
    tracing::warn!(error = %err, "sign-in could not be stored");
    SignInError::Unavailable
}
