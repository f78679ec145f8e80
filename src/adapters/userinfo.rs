//! Outbound adapter: TokenVerifier for opaque tokens, looked up at the SSO's userinfo endpoint.
//!
//! A 200 answer is mapped like JWT claims and cached for [`CACHE_TTL`] under a SHA-256 of the
//! token (the token itself is never kept); a 401 or 403 is an invalid token, remembered for
//! [`REFUSAL_TTL`] so a token sent again and again costs one SSO call, not one per request;
//! anything else (timeouts, 5xx, malformed answers) means the SSO cannot decide now, and is not
//! remembered. Concurrent lookups of one token share one SSO call.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use moka::sync::Cache;
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};

use super::jwks::{CONNECT_TIMEOUT, MAX_TOKEN_BYTES, TOTAL_TIMEOUT};
use crate::domain::ports::{AuthError, InvalidReason, TokenVerifier};
use crate::domain::principal::{IdentityClaims, Principal};
use crate::flight::Flights;

/// How long a positive answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// How long a refused token is answered from memory. Short, so a token the SSO refused only
/// for a moment (a clock skew at issue) soon works; long enough that repeating one costs at
/// most one SSO call per this period.
pub const REFUSAL_TTL: Duration = Duration::from_secs(30);

/// Most distinct tokens remembered at once (each of the two caches).
const CACHE_CAPACITY: u64 = 100_000;

/// SHA-256 of a token: the only form in which a token is kept.
type TokenKey = [u8; 32];

/// Outcome of one SSO lookup, shared by the requests that waited on it.
type Lookup = Result<Principal, AuthError>;

/// Largest userinfo answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Verifies opaque bearer tokens by asking the SSO who they belong to.
pub struct UserinfoVerifier {
    client: Client,
    url: String,
    cache: Cache<TokenKey, Principal>,
    refused: Cache<TokenKey, (InvalidReason, Arc<str>)>,
    /// Lookups in progress, by token key: concurrent callers of one token share one.
    flights: Flights<TokenKey, Lookup>,
}

impl std::fmt::Debug for UserinfoVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserinfoVerifier")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl UserinfoVerifier {
    /// A verifier asking `url` (3 s connect, 5 s total), caching answers for `ttl`; with
    /// `https_only`, plain http (the URL or a redirect) is refused.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(url: String, ttl: Duration, https_only: bool) -> anyhow::Result<Self> {
        // With `https_only`, a redirect to plain http is refused too, not only the URL itself.
        let client = Client::builder()
            .https_only(https_only)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("study-mode-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("build userinfo HTTP client")?;
        let cache = Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(ttl)
            .build();
        let refused = Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(REFUSAL_TTL.min(ttl))
            .build();
        Ok(Self {
            client,
            url,
            cache,
            refused,
            flights: Flights::default(),
        })
    }

    /// One SSO lookup of `token` (under `key`), shared with concurrent callers of the same
    /// token; its answer is remembered, a refusal for [`REFUSAL_TTL`], a failure not at all.
    async fn shared_lookup(&self, key: TokenKey, token: &str) -> Lookup {
        self.flights
            .run(key, || async {
                let answer = self.lookup(token).await;
                match &answer {
                    Ok(principal) => self.cache.insert(key, principal.clone()),
                    Err(AuthError::Invalid(reason, message)) => {
                        self.refused.insert(key, (*reason, message.as_str().into()));
                    }
                    Err(_) => {}
                }
                answer
            })
            .await
    }

    async fn lookup(&self, token: &str) -> Result<Principal, AuthError> {
        let unavailable = |what: &dyn std::fmt::Display| {
            tracing::warn!(url = %self.url, error = %what, "userinfo lookup failed");
            AuthError::Unavailable
        };
        let mut response = self
            .client
            .get(&self.url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(AuthError::invalid(
                    InvalidReason::NotRecognised,
                    "token not recognised by the identity provider",
                ));
            }
            other => return Err(unavailable(&format!("status {other}"))),
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(unavailable(&"answer too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let claims: IdentityClaims = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        claims
            .into_principal()
            .map_err(|message| AuthError::invalid(InvalidReason::MissingClaim, message))
    }
}

#[async_trait]
impl TokenVerifier for UserinfoVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::invalid(
                InvalidReason::TooLarge,
                "token too large",
            ));
        }
        let key: TokenKey = Sha256::digest(token.as_bytes()).into();
        if let Some(principal) = self.cache.get(&key) {
            return Ok(principal);
        }
        if let Some((reason, message)) = self.refused.get(&key) {
            return Err(AuthError::invalid(reason, message.as_ref()));
        }
        self.shared_lookup(key, token).await
    }
}
