//! Outbound adapter: TokenVerifier over the JSON Web Key Set of the SSO (jsonwebtoken + reqwest).

mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Client;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};

use crate::domain::ports::{AuthError, InvalidReason, TokenVerifier};
use crate::domain::principal::IdentityClaims;
use crate::domain::principal::Principal;
use rules::{
    check_audience, check_issuer, family_of, key_allows, principal, reason, select, valid_kid,
    verifies_signatures,
};

pub use crate::domain::principal::MAX_TOKEN_BYTES;

/// Largest key set or discovery document read; a bigger answer is not a key set.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Longest `kid` accepted.
const MAX_KID_LEN: usize = 128;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// Longest time a verified token is remembered (never past its own `exp`).
const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// Most verified tokens remembered at once.
const VERIFIED_CAPACITY: u64 = 200_000;

/// Time allowed to open the TCP (and TLS) connection to the SSO.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Time allowed for one whole request to the SSO.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the keys come from and what a token must say.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// Key set URL; when absent it is discovered from `sso_url`.
    pub jwks_url: Option<String>,
    /// Base URL of the SSO (OpenID discovery, then `/api/auth/jwks`).
    pub sso_url: Option<String>,
    /// Required `iss`, when configured.
    pub issuer: Option<String>,
    /// Required `aud`, when configured.
    pub audience: Option<String>,
    /// Allowed signing algorithms; HMAC algorithms are ignored even when listed.
    pub algorithms: Vec<Algorithm>,
    /// How long a fetched key set is used before it is fetched again.
    pub cache_ttl: Duration,
    /// Least time between two fetches triggered by an unknown `kid` (or a failed fetch).
    pub min_refresh: Duration,
    /// How long fetched keys keep working while the SSO cannot be reached.
    pub max_stale: Duration,
    /// Refuse plain http for every fetch: configured URLs, discovered `jwks_uri`s and redirects.
    pub https_only: bool,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            jwks_url: None,
            sso_url: None,
            issuer: None,
            audience: None,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
            cache_ttl: Duration::from_secs(3600),
            min_refresh: Duration::from_secs(30),
            max_stale: Duration::from_secs(86_400),
            https_only: false,
        }
    }
}

/// The last key set fetched and when fetches happened.
#[derive(Default)]
struct KeyCache {
    set: Option<Arc<JwkSet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Verifies bearer tokens against the SSO's published keys, cached in process.
pub struct JwksVerifier {
    client: Client,
    settings: JwksSettings,
    cache: RwLock<KeyCache>,
    /// Held for the whole of a fetch so concurrent misses cause one request, not many.
    fetch_lock: Mutex<()>,
    /// Tokens already verified (SHA-256 of the token → caller and `exp`): a signature check
    /// costs ~200 µs, a lookup ~1 µs. Emptied when a key disappears from the set.
    verified: moka::sync::Cache<[u8; 32], (Principal, i64)>,
}

/// The claims of a verified token plus its expiry.
#[derive(Deserialize)]
struct Verified {
    exp: i64,
    /// Read as raw JSON so that a number or a list is refused, not coerced or skipped.
    #[serde(default)]
    iss: Option<serde_json::Value>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(flatten)]
    identity: IdentityClaims,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: InvalidReason, message: &str) -> AuthError {
    AuthError::invalid(reason, message)
}

impl JwksVerifier {
    /// Builds the verifier and its one shared HTTP client (3 s connect, 5 s total).
    ///
    /// # Errors
    /// When neither `jwks_url` nor `sso_url` is set, a URL is not http(s), no asymmetric
    /// algorithm is allowed, or the HTTP client cannot be built.
    pub fn new(mut settings: JwksSettings) -> anyhow::Result<Self> {
        for url in [&settings.jwks_url, &settings.sso_url]
            .into_iter()
            .flatten()
        {
            let parsed = url::Url::parse(url).with_context(|| format!("parse SSO URL {url}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("SSO URL {url} is not http(s)");
            }
        }
        // Only the URL the keys come from (JWKS_URL, else the SSO's discovery) must be https.
        if settings.https_only
            && let Some(url) = settings.jwks_url.as_ref().or(settings.sso_url.as_ref())
            && url::Url::parse(url).is_ok_and(|u| u.scheme() != "https")
        {
            bail!("SSO URL {url} is not https");
        }
        if settings.jwks_url.is_none() && settings.sso_url.is_none() {
            bail!("JWKS verification needs a JWKS URL or an SSO URL");
        }
        // HMAC keys are shared secrets; a public key set can never vouch for them.
        settings.algorithms.retain(|alg| family_of(*alg).is_some());
        if settings.algorithms.is_empty() {
            bail!("no asymmetric signing algorithm allowed");
        }
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .https_only(settings.https_only)
            .user_agent(concat!("study-mode-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("build JWKS HTTP client")?;
        Ok(Self {
            client,
            settings,
            cache: RwLock::default(),
            fetch_lock: Mutex::new(()),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
        })
    }

    /// The key for `kid`, refetching once (rate limited) when it is not known yet.
    async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, AuthError> {
        let set = self.key_set(false).await?;
        if let Some(jwk) = select(&set, kid) {
            return Ok(jwk.clone());
        }
        let set = self.key_set(true).await?;
        select(&set, kid)
            .cloned()
            .ok_or_else(|| invalid(InvalidReason::UnknownKey, "unknown signing key"))
    }

    /// The cached key set, fetched when absent, expired, or (`unknown_kid`) possibly rotated.
    async fn key_set(&self, unknown_kid: bool) -> Result<Arc<JwkSet>, AuthError> {
        // Outside the lock, `Unavailable` may only mean that another task's cold fetch is in
        // flight (its attempt is already recorded): wait for that fetch below instead of
        // refusing. Under the lock no fetch is in flight, so the answer there is final.
        if let Ok(Some(set)) = self.cached(unknown_kid).await {
            return Ok(set);
        }
        let _fetching = self.fetch_lock.lock().await;
        // Another task may have fetched while this one waited for the lock.
        if let Some(set) = self.cached(unknown_kid).await? {
            return Ok(set);
        }
        let started = Instant::now();
        self.cache.write().await.last_attempt = Some(started);
        match self.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                let mut cache = self.cache.write().await;
                if let Some(old) = &cache.set
                    && old.keys.iter().filter(|k| verifies_signatures(k)).any(|k| {
                        k.common
                            .key_id
                            .as_deref()
                            .is_none_or(|kid| select(&set, Some(kid)).is_none())
                    })
                {
                    // A signing key was withdrawn (or republished for another use): tokens it
                    // signed must be checked again.
                    self.verified.invalidate_all();
                }
                cache.set = Some(set.clone());
                cache.fetched_at = Some(started);
                Ok(set)
            }
            Err(err) => {
                tracing::warn!(error = %err, "JWKS fetch failed");
                let cache = self.cache.read().await;
                match (&cache.set, cache.fetched_at) {
                    (Some(set), Some(at)) if at.elapsed() <= self.settings.max_stale => {
                        Ok(set.clone())
                    }
                    _ => Err(AuthError::Unavailable),
                }
            }
        }
    }

    /// The cached set when no fetch is due; `Unavailable` when a fetch is due but not allowed.
    async fn cached(&self, unknown_kid: bool) -> Result<Option<Arc<JwkSet>>, AuthError> {
        let cache = self.cache.read().await;
        let recently_tried = cache
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.settings.min_refresh);
        let (Some(set), Some(fetched_at)) = (&cache.set, cache.fetched_at) else {
            // A failed cold fetch is not retried on every request while the SSO is down.
            return if recently_tried {
                Err(AuthError::Unavailable)
            } else {
                Ok(None)
            };
        };
        let age = fetched_at.elapsed();
        if recently_tried && age <= self.settings.max_stale {
            return Ok(Some(set.clone()));
        }
        if !unknown_kid && age < self.settings.cache_ttl {
            return Ok(Some(set.clone()));
        }
        Ok(None)
    }

    /// Downloads the key set from the configured or discovered URL.
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        let url = self.jwks_url().await?;
        let body = self.get(&url).await?;
        serde_json::from_slice(&body).context("parse JWKS")
    }

    /// `jwks_url`, else the discovery document's `jwks_uri`, else `{sso}/api/auth/jwks`.
    async fn jwks_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.settings.jwks_url {
            return Ok(url.clone());
        }
        let sso = self
            .settings
            .sso_url
            .as_deref()
            .ok_or_else(|| anyhow!("no SSO URL"))?
            .trim_end_matches('/');
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: Option<String>,
        }
        let discovered = match self
            .get(&format!("{sso}/.well-known/openid-configuration"))
            .await
        {
            Ok(body) => serde_json::from_slice::<Discovery>(&body)
                .ok()
                .and_then(|doc| doc.jwks_uri),
            Err(err) => {
                tracing::debug!(error = %err, "no OpenID discovery document");
                None
            }
        };
        Ok(discovered.unwrap_or_else(|| format!("{sso}/api/auth/jwks")))
    }

    /// GETs `url`, bounded in size.
    async fn get(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let mut response = self.client.get(url).send().await?.error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                bail!("{url} answered more than {MAX_DOCUMENT_BYTES} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Validation rules for one allowed algorithm.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.required_spec_claims = HashSet::from(["exp".to_string()]);
        // A configured claim is required: the library otherwise skips one that is absent or
        // not a string. `verify` checks both again, strictly, after the signature.
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        if self.settings.audience.is_some() {
            validation.required_spec_claims.insert("aud".into());
        }
        match &self.settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation
    }
}

#[async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(InvalidReason::TooLarge, "token too large"));
        }
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((principal, exp)) = self.verified.get(&fingerprint) {
            let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
            if chrono::Utc::now().timestamp() <= exp.saturating_add(leeway) {
                return Ok(principal);
            }
            self.verified.invalidate(&fingerprint);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid(InvalidReason::Malformed, "malformed token"))?;
        let alg = header.alg;
        if family_of(alg).is_none() || !self.settings.algorithms.contains(&alg) {
            return Err(invalid(
                InvalidReason::WrongAlgorithm,
                "algorithm not allowed",
            ));
        }
        if let Some(kid) = &header.kid
            && !valid_kid(kid)
        {
            return Err(invalid(InvalidReason::Malformed, "malformed token"));
        }
        let jwk = self.key_for(header.kid.as_deref()).await?;
        if !key_allows(&jwk, alg) {
            return Err(invalid(
                InvalidReason::WrongAlgorithm,
                "algorithm not allowed",
            ));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| invalid(InvalidReason::UnknownKey, "unknown signing key"))?;
        let data = jsonwebtoken::decode::<Verified>(token, &key, &self.validation(alg)).map_err(
            |err| {
                let (reason, message) = reason(err.kind());
                invalid(reason, message)
            },
        )?;
        check_issuer(data.claims.iss.as_ref(), self.settings.issuer.as_deref())?;
        check_audience(data.claims.aud.as_ref(), self.settings.audience.as_deref())?;
        let exp = data.claims.exp;
        let principal = principal(data.claims.identity)?;
        self.verified.insert(fingerprint, (principal.clone(), exp));
        Ok(principal)
    }
}
