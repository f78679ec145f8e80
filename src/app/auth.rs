//! Authentication: a presented credential becomes the caller, over a chain of verifiers.
//!
//! API keys (`sk_…`) are checked against the key store, JWTs (three dot-separated parts) by
//! the JWT verifier, anything else by the opaque-token verifier. Which verifiers exist is
//! decided at start-up; a credential no configured verifier can check is refused.

mod metrics;

pub use metrics::{AuthKind, AuthMetrics, AuthOutcome, AuthReason};

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use moka::sync::Cache;

use super::identity::tokens::LocalVerifier;
use super::preauth::PreauthLimiter;
use crate::domain::api_key::{ADMIN_SCOPE, parse_key};
use crate::domain::ports::{ApiKeyStore, AuthError, InvalidReason, StoreError, TokenVerifier};
use crate::domain::principal::{MAX_TOKEN_BYTES, Principal};

/// `last_used_at` of a key is written at most once per this interval (per process).
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A credential as presented by a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `Authorization: Bearer <value>`: a JWT, an opaque token or an API key.
    Bearer(&'a str),
    /// `X-API-Key: <value>`.
    ApiKey(&'a str),
}

impl<'a> Credential<'a> {
    /// The raw value.
    pub fn value(self) -> &'a str {
        match self {
            Credential::Bearer(v) | Credential::ApiKey(v) => v,
        }
    }

    /// Which verifier checks it.
    pub fn kind(self) -> CredentialKind {
        let value = self.value();
        if matches!(self, Credential::ApiKey(_)) || value.starts_with("sk_") {
            CredentialKind::ApiKey
        } else if value.split('.').count() == 3 {
            CredentialKind::Jwt
        } else {
            CredentialKind::Opaque
        }
    }
}

/// The three kinds of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `sk_<id>_<secret>`.
    ApiKey,
    /// A signed JSON Web Token.
    Jwt,
    /// Anything else: looked up at the SSO.
    Opaque,
}

/// How a caller was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A JWT verified against the SSO's keys.
    Jwt,
    /// An access token of the service's own sign-in.
    Own,
    /// An opaque token the SSO vouched for.
    Opaque,
    /// An API key, with the scopes it grants.
    ApiKey {
        /// The key's public id.
        id: String,
        /// Granted scopes.
        scopes: Vec<String>,
    },
    /// The operator secret (`X-Admin-Secret`).
    AdminSecret,
    /// The development principal (development profile only).
    Development,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who the caller is.
    pub principal: Principal,
    /// How that was established.
    pub via: Via,
}

impl Caller {
    /// Whether the caller may use operator endpoints guarded by `scope`: an API key granting
    /// it (or `admin`), or the operator secret. User tokens never grant scopes.
    pub fn allows(&self, scope: &str) -> bool {
        match &self.via {
            Via::ApiKey { scopes, .. } => scopes.iter().any(|s| s == scope || s == ADMIN_SCOPE),
            Via::AdminSecret => true,
            Via::Jwt | Via::Own | Via::Opaque | Via::Development => false,
        }
    }

    /// The caller behind the operator secret.
    pub fn operator() -> Self {
        Self {
            principal: Principal {
                user_id: "operator".into(),
                organization_id: None,
                email: None,
                name: Some("operator (X-Admin-Secret)".into()),
                role: Some(ADMIN_SCOPE.into()),
                tier: crate::domain::principal::Tier::Admin,
            },
            via: Via::AdminSecret,
        }
    }
}

/// The authentication use case.
pub struct Authenticator {
    jwt: Option<Arc<dyn TokenVerifier>>,
    local: Option<Arc<LocalVerifier>>,
    opaque: Option<Arc<dyn TokenVerifier>>,
    keys: Option<Arc<dyn ApiKeyStore>>,
    touched: Cache<String, ()>,
    preauth: Option<Arc<PreauthLimiter>>,
    metrics: AuthMetrics,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("jwt", &self.jwt.is_some())
            .field("own_tokens", &self.local.is_some())
            .field("opaque", &self.opaque.is_some())
            .field("api_keys", &self.keys.is_some())
            .finish()
    }
}

impl Authenticator {
    /// An authenticator over the configured verifiers (`None`: that kind is refused).
    pub fn new(
        jwt: Option<Arc<dyn TokenVerifier>>,
        opaque: Option<Arc<dyn TokenVerifier>>,
        keys: Option<Arc<dyn ApiKeyStore>>,
    ) -> Self {
        Self {
            jwt,
            local: None,
            opaque,
            keys,
            touched: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TOUCH_INTERVAL)
                .build(),
            preauth: None,
            metrics: AuthMetrics::new(None),
        }
    }

    /// The same, also accepting the service's own access tokens (told apart from the SSO's by
    /// the key id in their header).
    pub fn with_own_tokens(mut self, local: Arc<LocalVerifier>) -> Self {
        self.local = Some(local);
        self
    }

    /// The same, with a budget of refused attempts per client address in front of it.
    pub fn with_preauth(mut self, limiter: Arc<PreauthLimiter>) -> Self {
        self.preauth = Some(limiter);
        self
    }

    /// The same, counting authentication outcomes on `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: AuthMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The authentication outcome counter.
    pub fn metrics(&self) -> &AuthMetrics {
        &self.metrics
    }

    /// The per-address budget of refused attempts, when one is configured.
    pub fn preauth(&self) -> Option<&Arc<PreauthLimiter>> {
        self.preauth.as_ref()
    }

    /// An authenticator that refuses every credential (development without an SSO).
    pub fn none() -> Self {
        Self::new(None, None, None)
    }

    /// The caller `credential` proves.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] with a plain reason for anything not accepted (including a
    /// credential over 8 KB, refused before any parsing or lookup), [`AuthError::Unavailable`]
    /// when the identity provider or key store cannot decide now.
    pub async fn authenticate(&self, credential: Credential<'_>) -> Result<Caller, AuthError> {
        let value = credential.value().trim();
        if value.is_empty() {
            return Err(AuthError::Missing);
        }
        if value.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::invalid(
                InvalidReason::TooLarge,
                "token too large",
            ));
        }
        let not_configured = |what: &str| {
            AuthError::invalid(
                InvalidReason::NotAccepted,
                format!("{what} are not accepted here"),
            )
        };
        match credential.kind() {
            CredentialKind::ApiKey => self.api_key(value).await,
            CredentialKind::Jwt => {
                // An own token names this service's key; anything else goes to the SSO, and
                // without an SSO to the own verifier, which refuses it with a reason.
                let own = self
                    .local
                    .as_ref()
                    .filter(|local| local.claims_key_of(value) || self.jwt.is_none());
                if let Some(local) = own {
                    return Ok(Caller {
                        principal: local.verify(value).await?,
                        via: Via::Own,
                    });
                }
                let verifier = self.jwt.as_ref().ok_or_else(|| not_configured("JWTs"))?;
                Ok(Caller {
                    principal: verifier.verify(value).await?,
                    via: Via::Jwt,
                })
            }
            CredentialKind::Opaque => {
                let verifier = self
                    .opaque
                    .as_ref()
                    .ok_or_else(|| not_configured("opaque tokens"))?;
                Ok(Caller {
                    principal: verifier.verify(value).await?,
                    via: Via::Opaque,
                })
            }
        }
    }

    async fn api_key(&self, value: &str) -> Result<Caller, AuthError> {
        let store = self.keys.as_ref().ok_or_else(|| {
            AuthError::invalid(InvalidReason::NotAccepted, "API keys are not accepted here")
        })?;
        let presented = parse_key(value)
            .ok_or_else(|| AuthError::invalid(InvalidReason::Malformed, "malformed API key"))?;
        let record = match store.find(presented.id).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => None,
            Err(err) => {
                tracing::warn!(error = %err, "API key lookup failed");
                return Err(AuthError::Unavailable);
            }
        };
        // Unknown id and wrong secret read the same, so ids cannot be probed.
        let record = record
            .filter(|r| r.secret_matches(presented.secret))
            .ok_or_else(|| AuthError::invalid(InvalidReason::UnknownKey, "unknown API key"))?;
        if record.revoked_at.is_some() {
            return Err(AuthError::invalid(
                InvalidReason::Revoked,
                "API key revoked",
            ));
        }
        self.touch(store, &record.id);
        Ok(Caller {
            principal: record.principal(),
            via: Via::ApiKey {
                id: record.id.clone(),
                scopes: record.scopes.clone(),
            },
        })
    }

    /// Records the use of a key in the background, at most once per [`TOUCH_INTERVAL`].
    fn touch(&self, store: &Arc<dyn ApiKeyStore>, id: &str) {
        if self.touched.contains_key(id) {
            return;
        }
        self.touched.insert(id.to_string(), ());
        let store = store.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(err) = store.touch(&id, Utc::now()).await {
                tracing::warn!(key = %id, error = %err, "could not record API key use");
            }
        });
    }
}

#[cfg(test)]
mod tests;
