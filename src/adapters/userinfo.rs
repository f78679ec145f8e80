//! Outbound adapter: TokenVerifier for opaque tokens, looked up at the SSO's userinfo endpoint.
//!
//! A 200 answer is mapped like JWT claims and cached for [`CACHE_TTL`] under a SHA-256 of the
//! token (the token itself is never kept); a 401 or 403 is an invalid token; anything else
//! (timeouts, 5xx, malformed answers) means the SSO cannot decide now.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use moka::sync::Cache;
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};

use super::jwks::{CONNECT_TIMEOUT, MAX_TOKEN_BYTES, TOTAL_TIMEOUT};
use crate::domain::ports::{AuthError, TokenVerifier};
use crate::domain::principal::{IdentityClaims, Principal};

/// How long a positive answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Most distinct tokens remembered at once.
const CACHE_CAPACITY: u64 = 100_000;

/// Largest userinfo answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Verifies opaque bearer tokens by asking the SSO who they belong to.
pub struct UserinfoVerifier {
    client: Client,
    url: String,
    cache: Cache<[u8; 32], Principal>,
}

impl std::fmt::Debug for UserinfoVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserinfoVerifier")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl UserinfoVerifier {
    /// A verifier asking `url` (3 s connect, 5 s total), caching answers for `ttl`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(url: String, ttl: Duration) -> anyhow::Result<Self> {
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("study-mode-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("build userinfo HTTP client")?;
        let cache = Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(ttl)
            .build();
        Ok(Self { client, url, cache })
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
                return Err(AuthError::Invalid(
                    "token not recognised by the identity provider".into(),
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
            .map_err(|reason| AuthError::Invalid(reason.into()))
    }
}

#[async_trait]
impl TokenVerifier for UserinfoVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("token too large".into()));
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(principal) = self.cache.get(&key) {
            return Ok(principal);
        }
        let principal = self.lookup(token).await?;
        self.cache.insert(key, principal.clone());
        Ok(principal)
    }
}
