//! Google sign-in: OpenID Connect with PKCE and a `nonce`; who signed in comes from the ID
//! token of the token answer, verified against the issuer's published keys.

mod id_token;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::http::{HttpError, ProviderHttp};
use super::{checked_grant, exchange_error, redirect_url, unavailable};
use crate::domain::identity::{Provider, ProviderProfile};
use crate::domain::ports::{AuthorizationStart, OAuthError, OAuthProvider};

/// How long discovered endpoints and fetched keys are used before they are fetched again.
const CACHE_TTL: Duration = Duration::from_secs(3600);

/// Least time between two key set fetches caused by an unknown `kid`.
const MIN_REFETCH: Duration = Duration::from_secs(60);

/// Where Google is and who this service is to it.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// OAuth client id (the `aud` of the ID tokens).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// `https://accounts.google.com`: the `iss` of the ID tokens, and where
    /// `/.well-known/openid-configuration` is.
    pub issuer: String,
    /// Refuse plain http URLs (the issuer and every discovered endpoint).
    pub https_only: bool,
}

/// The extra field of Google's token answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct IdTokenField {
    /// The signed ID token (absent only when the `openid` scope was not granted).
    #[serde(default)]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

/// The token answer with its ID token.
type GoogleTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// The `oauth2` client with its authorization and token endpoints set.
type GoogleClient = Client<
    BasicErrorResponse,
    GoogleTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The endpoints of the discovery document.
#[derive(Debug, Deserialize)]
struct Discovery {
    #[serde(default)]
    issuer: Option<String>,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Endpoints as used.
struct Endpoints {
    authorize: AuthUrl,
    token: TokenUrl,
    jwks_uri: String,
}

/// The last key set fetched and when fetches happened.
#[derive(Default)]
struct KeyCache {
    set: Option<Arc<JwkSet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Sign-in with Google.
pub struct GoogleProvider {
    client_id: String,
    client_secret: SecretString,
    issuer: String,
    http: ProviderHttp,
    /// Held for the whole of a discovery fetch, so concurrent first uses cause one request.
    endpoints: Mutex<Option<(Arc<Endpoints>, Instant)>>,
    /// Held for the whole of a key set fetch, likewise.
    keys: Mutex<KeyCache>,
}

impl std::fmt::Debug for GoogleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl GoogleProvider {
    /// The provider for `settings`; nothing is fetched before the first sign-in.
    ///
    /// # Errors
    /// When the issuer is not an http(s) URL, is plain http while `https_only`, or the HTTP
    /// client cannot be built.
    pub fn new(settings: GoogleSettings) -> anyhow::Result<Self> {
        let http = ProviderHttp::new(settings.https_only)?;
        if !http.allows(&settings.issuer) {
            bail!(
                "Google issuer {} is not an allowed http(s) URL",
                settings.issuer
            );
        }
        Ok(Self {
            client_id: settings.client_id,
            client_secret: settings.client_secret,
            issuer: settings.issuer.trim_end_matches('/').to_string(),
            http,
            endpoints: Mutex::new(None),
            keys: Mutex::new(KeyCache::default()),
        })
    }

    /// The endpoints, discovered on first use and again after [`CACHE_TTL`].
    async fn endpoints(&self) -> Result<Arc<Endpoints>, OAuthError> {
        let mut cached = self.endpoints.lock().await;
        if let Some((endpoints, at)) = cached.as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(endpoints.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let doc: Discovery = self
            .http
            .get_json(&url, None, "application/json")
            .await
            .map_err(|e| unavailable("Google discovery", &e))?;
        let endpoints = Arc::new(self.checked(doc)?);
        *cached = Some((endpoints.clone(), Instant::now()));
        Ok(endpoints)
    }

    /// The discovery document's endpoints, when they are allowed URLs of this issuer.
    fn checked(&self, doc: Discovery) -> Result<Endpoints, OAuthError> {
        let bad = || unavailable("Google discovery", &HttpError::Malformed);
        if doc
            .issuer
            .as_deref()
            .is_some_and(|iss| iss.trim_end_matches('/') != self.issuer)
        {
            return Err(bad());
        }
        for url in [
            &doc.authorization_endpoint,
            &doc.token_endpoint,
            &doc.jwks_uri,
        ] {
            if !self.http.allows(url) {
                return Err(unavailable("Google discovery", &HttpError::Insecure));
            }
        }
        Ok(Endpoints {
            authorize: AuthUrl::new(doc.authorization_endpoint).map_err(|_| bad())?,
            token: TokenUrl::new(doc.token_endpoint).map_err(|_| bad())?,
            jwks_uri: doc.jwks_uri,
        })
    }

    /// The `oauth2` client for `endpoints`.
    fn client(&self, endpoints: &Endpoints) -> GoogleClient {
        Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.client_secret.expose_secret().to_string(),
            ))
            .set_auth_uri(endpoints.authorize.clone())
            .set_token_uri(endpoints.token.clone())
    }

    /// The key set holding `kid`: the cached one while fresh, else fetched again (for an
    /// unknown `kid` at most once per [`MIN_REFETCH`]).
    async fn key_set(&self, jwks_uri: &str, kid: &str) -> Result<Arc<JwkSet>, OAuthError> {
        let mut cache = self.keys.lock().await;
        let fresh = cache.fetched_at.is_some_and(|at| at.elapsed() < CACHE_TTL);
        if let Some(set) = &cache.set
            && fresh
            && id_token::find(set, kid).is_some()
        {
            return Ok(set.clone());
        }
        let recently_tried = cache
            .last_attempt
            .is_some_and(|at| at.elapsed() < MIN_REFETCH);
        if fresh && recently_tried {
            return Err(OAuthError::Refused("unknown signing key".into()));
        }
        cache.last_attempt = Some(Instant::now());
        match self
            .http
            .get_json::<JwkSet>(jwks_uri, None, "application/json")
            .await
        {
            Ok(set) => {
                let set = Arc::new(set);
                cache.set = Some(set.clone());
                cache.fetched_at = cache.last_attempt;
                Ok(set)
            }
            // Stale keys still verify while the key set cannot be fetched.
            Err(error) => match &cache.set {
                Some(set) if id_token::find(set, kid).is_some() => Ok(set.clone()),
                _ => Err(unavailable("Google keys", &error)),
            },
        }
    }
}

#[async_trait]
impl OAuthProvider for GoogleProvider {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, OAuthError> {
        let endpoints = self.endpoints().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().secret().clone();
        let (url, state) = self
            .client(&endpoints)
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("nonce", nonce.clone())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .url();
        Ok(AuthorizationStart {
            url: url.into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: Some(nonce),
        })
    }

    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: Option<&str>,
        redirect_uri: &str,
    ) -> Result<ProviderProfile, OAuthError> {
        let Some(nonce) = nonce else {
            return Err(OAuthError::Refused("no nonce to check the ID token".into()));
        };
        let verifier = checked_grant(code, pkce_verifier)?;
        let endpoints = self.endpoints().await?;
        let answer = self
            .client(&endpoints)
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        let Some(token) = answer.extra_fields().id_token.as_deref() else {
            return Err(OAuthError::Refused("no ID token".into()));
        };
        let kid = id_token::kid(token)?;
        let keys = self.key_set(&endpoints.jwks_uri, &kid).await?;
        let expected = id_token::Expected {
            issuer: &self.issuer,
            audience: &self.client_id,
            nonce,
        };
        id_token::verify(token, &keys, &expected)
    }
}
