//! How the load generator authenticates: the development principal (`X-User-ID`) or RS256
//! bearer tokens signed with a fixed test key whose public half the fake model serves as a
//! JWKS. The key pair in `bench_rsa_key.pem` / `bench_jwks.json` was generated for this bench
//! with openssl and protects nothing; never configure it anywhere real.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;

use crate::cli::AuthMode;
use crate::error::HarnessError;

/// The public half of the bench key, as a JSON Web Key Set.
pub const JWKS_JSON: &str = include_str!("bench_jwks.json");

/// The private half (PKCS#8 PEM), bench only.
const KEY_PEM: &str = include_str!("bench_rsa_key.pem");

/// `kid` of the bench key, as in the JWKS.
const KID: &str = "load-bench-1";

/// `iss` of bench tokens (the service is started with `JWT_ISSUER` set to it).
pub const ISSUER: &str = "https://sso.load-bench.invalid";

/// `aud` of bench tokens (the service is started with `JWT_AUDIENCE` set to it).
pub const AUDIENCE: &str = "study-mode-api";

/// Lifetime of a bench token: longer than any run.
const TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
}

/// Builds the identity headers of bench users.
pub struct Identities {
    mode: AuthMode,
    key: Option<EncodingKey>,
}

impl Identities {
    /// Loads the signing key when `mode` needs it.
    ///
    /// # Errors
    /// When the embedded key cannot be parsed.
    pub fn new(mode: AuthMode) -> Result<Self, HarnessError> {
        let key = match mode {
            AuthMode::Dev => None,
            AuthMode::Jwt => Some(
                EncodingKey::from_rsa_pem(KEY_PEM.as_bytes())
                    .map_err(|e| HarnessError::Jwt(format!("bench key: {e}")))?,
            ),
        };
        let identities = Self { mode, key };
        if mode == AuthMode::Jwt {
            identities.self_check()?;
        }
        Ok(identities)
    }

    /// Verifies a bench token against the embedded JWKS, so a key file regenerated without
    /// the other fails here rather than as 401s under load.
    fn self_check(&self) -> Result<(), HarnessError> {
        let headers = self.headers("self-check")?;
        let token = headers
            .first()
            .and_then(|(_, v)| v.strip_prefix("Bearer "))
            .ok_or_else(|| HarnessError::Jwt("no bearer token built".into()))?;
        let set: JwkSet = serde_json::from_str(JWKS_JSON)
            .map_err(|e| HarnessError::Jwt(format!("bench JWKS: {e}")))?;
        let jwk = set
            .find(KID)
            .ok_or_else(|| HarnessError::Jwt(format!("bench JWKS has no kid {KID}")))?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| HarnessError::Jwt(format!("bench JWKS key: {e}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(|e| {
            HarnessError::Jwt(format!(
                "bench token does not verify with the bench JWKS: {e}"
            ))
        })?;
        Ok(())
    }

    /// The headers that make a request come from `user`.
    ///
    /// # Errors
    /// When signing fails.
    pub fn headers(&self, user: &str) -> Result<Vec<(String, String)>, HarnessError> {
        match (&self.mode, &self.key) {
            (AuthMode::Jwt, Some(key)) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let claims = Claims {
                    sub: user,
                    iss: ISSUER,
                    aud: AUDIENCE,
                    exp: now + TOKEN_LIFETIME_SECS,
                    iat: now,
                };
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(KID.to_string());
                let token = jsonwebtoken::encode(&header, &claims, key)
                    .map_err(|e| HarnessError::Jwt(format!("sign: {e}")))?;
                Ok(vec![("authorization".into(), format!("Bearer {token}"))])
            }
            _ => Ok(vec![("x-user-id".into(), user.to_string())]),
        }
    }

    /// Headers for `users` users named `{prefix}-{i}`.
    ///
    /// # Errors
    /// When signing fails.
    pub fn for_users(
        &self,
        prefix: &str,
        users: usize,
    ) -> Result<Vec<Vec<(String, String)>>, HarnessError> {
        (0..users)
            .map(|i| self.headers(&format!("{prefix}-{i}")))
            .collect()
    }
}

/// Service environment for `mode`: the development principal, or the JWT verifier pointed at
/// the harness' JWKS with the development principal off.
pub fn service_env(mode: AuthMode, jwks_url: &str) -> Vec<(String, String)> {
    match mode {
        AuthMode::Dev => vec![("DEV_MODE".into(), "true".into())],
        AuthMode::Jwt => vec![
            ("DEV_MODE".into(), "false".into()),
            ("JWKS_URL".into(), jwks_url.to_string()),
            ("JWT_ISSUER".into(), ISSUER.into()),
            ("JWT_AUDIENCE".into(), AUDIENCE.into()),
        ],
    }
}
