//! The own sign-in: token issuance (keys, lifetimes) and the OAuth providers.

use std::time::Duration;

use secrecy::SecretString;

use crate::domain::identity::Provider;

/// How the service signs its own access tokens.
#[derive(Debug, Clone)]
pub enum SigningKey {
    /// HMAC with `JWT_SECRET_KEY` (HS256, HS384 or HS512): only this service can verify.
    Hmac {
        /// `jsonwebtoken`'s name of the algorithm.
        algorithm: jsonwebtoken::Algorithm,
        /// The secret, at least 32 bytes.
        secret: SecretString,
    },
    /// A private key from `JWT_PRIVATE_KEY_FILE` (EdDSA or RS256): the public half is served
    /// at `/.well-known/jwks.json`, so other services can verify.
    Asymmetric {
        /// EdDSA or RS256.
        algorithm: jsonwebtoken::Algorithm,
        /// The PEM file as read at start-up.
        pem: SecretString,
        /// Where it was read from (for `check-config`).
        path: String,
    },
}

impl SigningKey {
    /// The signing algorithm.
    pub fn algorithm(&self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hmac { algorithm, .. } | Self::Asymmetric { algorithm, .. } => *algorithm,
        }
    }
}

/// One configured OAuth provider.
#[derive(Debug, Clone)]
pub struct OAuthClientConfig {
    /// Which provider.
    pub provider: Provider,
    /// `OAUTH_{GITHUB,GOOGLE}_CLIENT_ID`.
    pub client_id: String,
    /// `OAUTH_{GITHUB,GOOGLE}_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// GitHub: `OAUTH_GITHUB_AUTHORIZE_URL`; Google: `OAUTH_GOOGLE_ISSUER`.
    pub authorize_or_issuer: String,
    /// GitHub: `OAUTH_GITHUB_TOKEN_URL`; Google: unused (discovered).
    pub token_url: String,
    /// GitHub: `OAUTH_GITHUB_API_URL`; Google: unused.
    pub api_url: String,
}

/// The service's own identity side. Issuance is on when `signing` is set.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The key access tokens are signed with (`JWT_SECRET_KEY` or `JWT_PRIVATE_KEY_FILE`);
    /// `None`: the service issues nothing and `/auth/*` sign-in is off.
    pub signing: Option<SigningKey>,
    /// Lifetime of an access token (`ACCESS_TOKEN_EXPIRE_MINUTES`).
    pub access_ttl: Duration,
    /// Lifetime of a refresh token, hence of a session without activity
    /// (`REFRESH_TOKEN_EXPIRE_DAYS`).
    pub refresh_ttl: Duration,
    /// A rotated refresh token presented again this soon is refused without ending the session
    /// (`REFRESH_REUSE_GRACE_SECS`); later it is reuse.
    pub reuse_grace: Duration,
    /// Enabled providers, in `OAUTH2_PROVIDERS` order.
    pub providers: Vec<OAuthClientConfig>,
    /// Public base of the callbacks (`OAUTH_REDIRECT_BASE_URL`, default `PUBLIC_BASE_URL`):
    /// the callback of GitHub is `{base}/auth/github/callback`.
    pub redirect_base_url: String,
    /// Where a finished sign-in may send the browser (`AUTH_ALLOWED_REDIRECTS`, default
    /// `ALLOWED_ORIGINS`): origins, or URL prefixes with a path.
    pub allowed_redirects: Vec<String>,
    /// `iss` (and `aud`) of the access tokens: `PUBLIC_BASE_URL`.
    pub issuer: String,
    /// Cookies carry `Secure` (everywhere but in development on plain http).
    pub secure_cookies: bool,
}

impl IdentityConfig {
    /// Whether the service issues its own tokens.
    pub fn issues_tokens(&self) -> bool {
        self.signing.is_some()
    }
}

impl IdentityConfig {
    /// The section as `NAME=value` pairs for `check-config`, secrets redacted.
    pub(super) fn describe(&self) -> Vec<(&'static str, String)> {
        let client = |provider: Provider| self.providers.iter().find(|p| p.provider == provider);
        let unset = || "(unset)".to_string();
        let github = client(Provider::Github);
        let google = client(Provider::Google);
        let (algorithm, secret, key_file) = match &self.signing {
            None => ("(unset: no tokens issued)".into(), unset(), unset()),
            Some(SigningKey::Hmac { algorithm, .. }) => {
                (format!("{algorithm:?}"), "***".into(), unset())
            }
            Some(SigningKey::Asymmetric {
                algorithm, path, ..
            }) => (format!("{algorithm:?}"), unset(), path.clone()),
        };
        let names: Vec<&str> = self.providers.iter().map(|p| p.provider.as_str()).collect();
        vec![
            ("JWT_SECRET_KEY", secret),
            ("JWT_ALGORITHM", algorithm),
            ("JWT_PRIVATE_KEY_FILE", key_file),
            (
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                (self.access_ttl.as_secs() / 60).to_string(),
            ),
            (
                "REFRESH_TOKEN_EXPIRE_DAYS",
                (self.refresh_ttl.as_secs() / 86_400).to_string(),
            ),
            (
                "OAUTH2_PROVIDERS",
                if names.is_empty() {
                    "(none)".into()
                } else {
                    names.join(",")
                },
            ),
            (
                "OAUTH_GITHUB_CLIENT_ID",
                github.map_or_else(unset, |c| c.client_id.clone()),
            ),
            (
                "OAUTH_GITHUB_CLIENT_SECRET",
                github.map_or_else(unset, |_| "***".into()),
            ),
            (
                "OAUTH_GITHUB_AUTHORIZE_URL",
                github.map_or_else(unset, |c| c.authorize_or_issuer.clone()),
            ),
            (
                "OAUTH_GITHUB_TOKEN_URL",
                github.map_or_else(unset, |c| c.token_url.clone()),
            ),
            (
                "OAUTH_GITHUB_API_URL",
                github.map_or_else(unset, |c| c.api_url.clone()),
            ),
            (
                "OAUTH_GOOGLE_CLIENT_ID",
                google.map_or_else(unset, |c| c.client_id.clone()),
            ),
            (
                "OAUTH_GOOGLE_CLIENT_SECRET",
                google.map_or_else(unset, |_| "***".into()),
            ),
            (
                "OAUTH_GOOGLE_ISSUER",
                google.map_or_else(unset, |c| c.authorize_or_issuer.clone()),
            ),
            (
                "REFRESH_REUSE_GRACE_SECS",
                self.reuse_grace.as_secs().to_string(),
            ),
            ("OAUTH_REDIRECT_BASE_URL", self.redirect_base_url.clone()),
            (
                "AUTH_ALLOWED_REDIRECTS",
                if self.allowed_redirects.is_empty() {
                    "(none)".into()
                } else {
                    self.allowed_redirects.join(",")
                },
            ),
        ]
    }
}
