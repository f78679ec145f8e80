//! The service's own access tokens: signed here ([`TokenIssuer`]) and verified here
//! ([`LocalVerifier`], one link of the verifier chain).
//!
//! An access token is a JWT with `sub`, `email`, `name`, `tier`, `role`, `iat`, `exp`, `iss`,
//! `aud`, `jti` and `sid` (the session: the refresh token family it was issued from). Its
//! header names the key (`kid`), so the verifier chain can tell an own token from the SSO's
//! without trying both.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use moka::sync::Cache;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::identity::SigningKey;
use crate::domain::identity::User;
use crate::domain::ports::{AuthError, InvalidReason, RefreshTokenStore, TokenVerifier};
use crate::domain::principal::{IdentityClaims, Principal};

/// `aud` of every access token the service issues.
pub const AUDIENCE: &str = "study-mode-api";

/// How long a session found alive is believed without asking the store again: a logged-out,
/// deleted or disabled user's access tokens stop working within this time.
pub const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 30;

/// The claims of an own access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id (`usr_…`).
    pub sub: String,
    /// E-mail address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Display name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Quota tier.
    pub tier: String,
    /// Role.
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// `PUBLIC_BASE_URL`.
    pub iss: String,
    /// [`AUDIENCE`].
    pub aud: String,
    /// Unique id of this token.
    pub jti: String,
    /// The session (refresh token family).
    pub sid: String,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Signing and verification keys of the own tokens.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    /// The public key, for asymmetric algorithms.
    public: Option<Jwk>,
    /// Key material the sign-in cookie's MAC key is derived from.
    cookie_key: [u8; 32],
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn derive(label: &str, material: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(label.as_bytes());
    hash.update([0]);
    hash.update(material);
    hash.finalize().into()
}

impl TokenKeys {
    /// Keys from the configured signing key.
    ///
    /// # Errors
    /// When the key cannot be parsed (the configuration checked it already).
    pub fn new(signing: &SigningKey) -> anyhow::Result<Self> {
        match signing {
            SigningKey::Hmac { algorithm, secret } => {
                let secret = secret.expose_secret().as_bytes();
                // The key id is a one-way digest: it names the key without revealing it.
                let kid = format!(
                    "hs-{}",
                    &hex::encode(derive("study-mode-api kid", secret))[..16]
                );
                Ok(Self {
                    algorithm: *algorithm,
                    encoding: EncodingKey::from_secret(secret),
                    decoding: DecodingKey::from_secret(secret),
                    kid,
                    public: None,
                    cookie_key: derive("study-mode-api sign-in cookie", secret),
                })
            }
            SigningKey::Asymmetric { algorithm, pem, .. } => {
                let bytes = pem.expose_secret().as_bytes();
                let encoding = match algorithm {
                    Algorithm::EdDSA => EncodingKey::from_ed_pem(bytes)?,
                    _ => EncodingKey::from_rsa_pem(bytes)?,
                };
                let mut public = Jwk::from_encoding_key(&encoding, *algorithm)?;
                let params = serde_json::to_vec(&public.algorithm)?;
                let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&params)[..12]);
                public.common.key_id = Some(kid.clone());
                public.common.public_key_use = Some(PublicKeyUse::Signature);
                public.common.key_algorithm = Some(match algorithm {
                    Algorithm::EdDSA => KeyAlgorithm::EdDSA,
                    _ => KeyAlgorithm::RS256,
                });
                let decoding = DecodingKey::from_jwk(&public)?;
                Ok(Self {
                    algorithm: *algorithm,
                    encoding,
                    decoding,
                    kid,
                    public: Some(public),
                    cookie_key: derive("study-mode-api sign-in cookie", bytes),
                })
            }
        }
    }

    /// The key id written in every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public keys for `/.well-known/jwks.json` (empty for HMAC: nothing to publish).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.public.iter().cloned().collect(),
        }
    }

    /// The key of the sign-in cookie's MAC.
    pub(super) fn cookie_key(&self) -> &[u8; 32] {
        &self.cookie_key
    }
}

/// Signs access tokens.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: TokenKeys,
    issuer: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// An issuer of tokens valid for `ttl`, with `iss` = `issuer`.
    pub fn new(keys: TokenKeys, issuer: String, ttl: Duration) -> Self {
        Self { keys, issuer, ttl }
    }

    /// The keys.
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// A token for `user` in session `sid`.
    ///
    /// # Errors
    /// When signing fails (a broken key; not expected after start-up).
    pub fn issue(&self, user: &User, sid: &str) -> anyhow::Result<AccessToken> {
        let principal = user.principal();
        let now = Utc::now().timestamp();
        let ttl = self.ttl.as_secs();
        let claims = AccessClaims {
            sub: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            tier: principal.tier.as_str().to_string(),
            role: user.role.clone(),
            iat: now,
            exp: now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
            sid: sid.to_string(),
        };
        let mut header = Header::new(self.keys.algorithm);
        header.kid = Some(self.keys.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.keys.encoding)?;
        Ok(AccessToken {
            token,
            expires_in: ttl,
        })
    }
}

/// Sessions found alive lately, shared by the verifier (which fills it) and the use cases that
/// end sessions (which empty it, so this replica refuses the session's access tokens at once;
/// other replicas within [`SESSION_RECHECK`]).
#[derive(Clone)]
pub struct SessionCache(Cache<String, bool>);

impl Default for SessionCache {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(200_000)
                .time_to_live(SESSION_RECHECK)
                .build(),
        )
    }
}

impl SessionCache {
    /// Forgets session `sid`.
    pub fn forget(&self, sid: &str) {
        self.0.invalidate(sid);
    }

    /// Forgets every session (an account deletion: its sessions are not known by id).
    pub fn forget_all(&self) {
        self.0.invalidate_all();
    }
}

/// Verifies own access tokens: signature, `iss`, `aud`, `exp`, then that the session is alive
/// (checked at most every [`SESSION_RECHECK`] per session and process).
pub struct LocalVerifier {
    keys: TokenKeys,
    validation: Validation,
    sessions: Arc<dyn RefreshTokenStore>,
    alive: SessionCache,
}

impl LocalVerifier {
    /// A verifier of the tokens `issuer` signs with `keys`.
    pub fn new(
        keys: TokenKeys,
        issuer: &str,
        sessions: Arc<dyn RefreshTokenStore>,
        alive: SessionCache,
    ) -> Self {
        let mut validation = Validation::new(keys.algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Self {
            keys,
            validation,
            sessions,
            alive,
        }
    }

    /// Whether `token`'s header names this service's key.
    pub fn claims_key_of(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .is_ok_and(|h| h.kid.as_deref() == Some(self.keys.kid.as_str()))
    }

    async fn session_alive(&self, sid: &str) -> Result<bool, AuthError> {
        if let Some(alive) = self.alive.0.get(sid) {
            return Ok(alive);
        }
        match self.sessions.family_alive(sid, Utc::now()).await {
            Ok(alive) => {
                self.alive.0.insert(sid.to_string(), alive);
                Ok(alive)
            }
            Err(err) => {
                // A signature this service made, within its lifetime: serve it rather than fail
                // every request while the database is away; revocation waits for the store.
                tracing::warn!(error = %err, "session check failed; token accepted on its signature");
                Ok(true)
            }
        }
    }
}

#[async_trait]
impl TokenVerifier for LocalVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.keys.decoding, &self.validation)
                .map_err(|e| {
                    use InvalidReason as R;
                    use jsonwebtoken::errors::ErrorKind;
                    let (reason, message) = match e.kind() {
                        ErrorKind::ExpiredSignature => (R::Expired, "token expired"),
                        ErrorKind::InvalidIssuer => (R::WrongIssuer, "token has the wrong issuer"),
                        ErrorKind::InvalidAudience => {
                            (R::WrongAudience, "token has the wrong audience")
                        }
                        ErrorKind::InvalidAlgorithm => {
                            (R::WrongAlgorithm, "token signed with the wrong algorithm")
                        }
                        ErrorKind::InvalidSignature => {
                            (R::BadSignature, "token signature does not verify")
                        }
                        _ => (R::Malformed, "token is malformed"),
                    };
                    AuthError::invalid(reason, message)
                })?;
        let claims = data.claims;
        if !self.session_alive(&claims.sid).await? {
            return Err(AuthError::invalid(
                InvalidReason::Revoked,
                "session ended (signed out or revoked)",
            ));
        }
        IdentityClaims {
            sub: Some(claims.sub),
            email: claims.email,
            name: claims.name,
            role: Some(claims.role),
            tier: Some(claims.tier),
            ..IdentityClaims::default()
        }
        .into_principal()
        .map_err(|message| AuthError::invalid(InvalidReason::MissingClaim, message))
    }
}

#[cfg(test)]
mod tests;
