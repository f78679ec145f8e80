//! The own sign-in: `JWT_SECRET_KEY`/`JWT_PRIVATE_KEY_FILE`, `JWT_ALGORITHM`, token lifetimes,
//! `OAUTH2_PROVIDERS` and each provider's client and endpoints, `OAUTH_REDIRECT_BASE_URL`,
//! `AUTH_ALLOWED_REDIRECTS`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::SecretString;

use super::Collector;
use super::sections::http_url;
use crate::config::RawEnv;
use crate::config::identity::{IdentityConfig, OAuthClientConfig, SigningKey};
use crate::domain::identity::Provider;

/// Shortest accepted `JWT_SECRET_KEY`, in bytes (HS256 wants a key as long as its hash).
pub(super) const MIN_SECRET_BYTES: usize = 32;

/// Algorithms `JWT_ALGORITHM` may name; HMAC ones use `JWT_SECRET_KEY`, the others
/// `JWT_PRIVATE_KEY_FILE`.
const ALGORITHMS: &[(&str, Algorithm)] = &[
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("EdDSA", Algorithm::EdDSA),
    ("RS256", Algorithm::RS256),
];

/// Largest key file read.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

fn algorithm(c: &mut Collector, raw: &Option<String>) -> Algorithm {
    let Some(name) = raw.as_deref().map(str::trim) else {
        return Algorithm::HS256;
    };
    match ALGORITHMS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
    {
        Some((_, alg)) => *alg,
        None => {
            let known: Vec<&str> = ALGORITHMS.iter().map(|(k, _)| *k).collect();
            c.push(
                "JWT_ALGORITHM",
                format!("{name:?} is not one of {}", known.join(", ")),
            );
            Algorithm::HS256
        }
    }
}

fn private_key(c: &mut Collector, path: &str, algorithm: Algorithm) -> Option<SecretString> {
    const VAR: &str = "JWT_PRIVATE_KEY_FILE";
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            c.push(VAR, format!("cannot read {path:?}: {e}"));
            return None;
        }
    };
    if meta.len() > MAX_KEY_FILE_BYTES {
        c.push(VAR, format!("{path:?} is over 64 KB: not a PEM key"));
        return None;
    }
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(e) => {
            c.push(VAR, format!("cannot read {path:?}: {e}"));
            return None;
        }
    };
    let parsed = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).map(|_| ()),
        _ => EncodingKey::from_rsa_pem(&pem).map(|_| ()),
    };
    if parsed.is_err() {
        let kind = if algorithm == Algorithm::EdDSA {
            "an Ed25519"
        } else {
            "an RSA"
        };
        c.push(
            VAR,
            format!("{path:?} is not {kind} private key in PEM (PKCS#8) form"),
        );
        return None;
    }
    match String::from_utf8(pem) {
        Ok(text) => Some(SecretString::from(text)),
        Err(_) => {
            c.push(VAR, format!("{path:?} is not text"));
            None
        }
    }
}

/// `JWT_SECRET_KEY`, `JWT_PRIVATE_KEY_FILE`, `JWT_ALGORITHM`: the signing key, when any.
fn signing(c: &mut Collector, raw: &RawEnv) -> Option<SigningKey> {
    let algorithm = algorithm(c, &raw.jwt_algorithm);
    let hmac = matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    let secret = raw.jwt_secret_key.as_ref();
    let file = raw.jwt_private_key_file.as_deref().map(str::trim);
    if let Some(secret) = secret
        && secret.len() < MIN_SECRET_BYTES
    {
        c.push(
            "JWT_SECRET_KEY",
            format!(
                "must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`); it \
                 has {}",
                secret.len()
            ),
        );
    }
    match (hmac, secret, file) {
        (_, None, None) => {
            if raw.jwt_algorithm.is_some() {
                c.push(
                    "JWT_ALGORITHM",
                    "is set, but neither JWT_SECRET_KEY nor JWT_PRIVATE_KEY_FILE is: nothing to \
                     sign with",
                );
            }
            None
        }
        (true, Some(secret), _) => {
            if file.is_some() {
                c.push(
                    "JWT_PRIVATE_KEY_FILE",
                    format!(
                        "is set, but JWT_ALGORITHM is {algorithm:?}, which signs with \
                         JWT_SECRET_KEY: set JWT_ALGORITHM=EdDSA or RS256, or unset one of them"
                    ),
                );
            }
            Some(SigningKey::Hmac {
                algorithm,
                secret: SecretString::from(secret.clone()),
            })
        }
        (true, None, Some(_)) => {
            c.push(
                "JWT_ALGORITHM",
                format!(
                    "is {algorithm:?} (the default is HS256), which signs with JWT_SECRET_KEY; a \
                     JWT_PRIVATE_KEY_FILE needs JWT_ALGORITHM=EdDSA or RS256"
                ),
            );
            None
        }
        (false, _, None) => {
            c.push(
                "JWT_PRIVATE_KEY_FILE",
                format!("must be set when JWT_ALGORITHM={algorithm:?}"),
            );
            None
        }
        (false, _, Some(path)) => {
            private_key(c, path, algorithm).map(|pem| SigningKey::Asymmetric {
                algorithm,
                pem,
                path: path.to_string(),
            })
        }
    }
}

fn client(
    c: &mut Collector,
    provider: Provider,
    id: &Option<String>,
    secret: &Option<String>,
) -> Option<(String, SecretString)> {
    let upper = provider.as_str().to_ascii_uppercase();
    let id_var = format!("OAUTH_{upper}_CLIENT_ID");
    let secret_var = format!("OAUTH_{upper}_CLIENT_SECRET");
    let id = id.as_deref().map(str::trim);
    match id {
        None => c.push(
            &id_var,
            format!(
                "must be set when OAUTH2_PROVIDERS names {}",
                provider.as_str()
            ),
        ),
        Some(id) if id.len() > 200 || id.chars().any(|ch| ch.is_control() || ch == ' ') => {
            c.push(&id_var, "must be at most 200 characters, without spaces")
        }
        Some(_) => {}
    }
    if secret.is_none() {
        c.push(
            &secret_var,
            format!(
                "must be set when OAUTH2_PROVIDERS names {}",
                provider.as_str()
            ),
        );
    }
    Some((id?.to_string(), SecretString::from(secret.clone()?)))
}

fn providers(c: &mut Collector, raw: &RawEnv) -> Vec<OAuthClientConfig> {
    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    let mut chosen = Vec::new();
    for name in c.names("OAUTH2_PROVIDERS", &raw.oauth2_providers, &names) {
        let Some(provider) = Provider::parse(&name) else {
            continue;
        };
        match provider {
            Provider::Github => {
                let authorize = http_url(
                    c,
                    "OAUTH_GITHUB_AUTHORIZE_URL",
                    &raw.oauth_github_authorize_url,
                    "https://github.com/login/oauth/authorize",
                );
                let token = http_url(
                    c,
                    "OAUTH_GITHUB_TOKEN_URL",
                    &raw.oauth_github_token_url,
                    "https://github.com/login/oauth/access_token",
                );
                let api = http_url(
                    c,
                    "OAUTH_GITHUB_API_URL",
                    &raw.oauth_github_api_url,
                    "https://api.github.com",
                );
                let creds = client(
                    c,
                    provider,
                    &raw.oauth_github_client_id,
                    &raw.oauth_github_client_secret,
                );
                if let Some((client_id, client_secret)) = creds {
                    chosen.push(OAuthClientConfig {
                        provider,
                        client_id,
                        client_secret,
                        authorize_or_issuer: authorize,
                        token_url: token,
                        api_url: api,
                    });
                }
            }
            Provider::Google => {
                let issuer = http_url(
                    c,
                    "OAUTH_GOOGLE_ISSUER",
                    &raw.oauth_google_issuer,
                    "https://accounts.google.com",
                );
                let creds = client(
                    c,
                    provider,
                    &raw.oauth_google_client_id,
                    &raw.oauth_google_client_secret,
                );
                if let Some((client_id, client_secret)) = creds {
                    chosen.push(OAuthClientConfig {
                        provider,
                        client_id,
                        client_secret,
                        authorize_or_issuer: issuer,
                        token_url: String::new(),
                        api_url: String::new(),
                    });
                }
            }
        }
    }
    chosen
}

/// `AUTH_ALLOWED_REDIRECTS`: origins or URL prefixes, default the allowed origins.
fn allowed_redirects(c: &mut Collector, raw: &RawEnv, origins: &[String]) -> Vec<String> {
    const VAR: &str = "AUTH_ALLOWED_REDIRECTS";
    let Some(text) = raw.auth_allowed_redirects.as_deref() else {
        return origins.iter().filter(|o| *o != "*").cloned().collect();
    };
    let mut list = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ok = url::Url::parse(entry).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
        });
        if ok && entry.len() <= 500 {
            list.push(entry.to_string());
        } else {
            c.push(
                VAR,
                format!(
                    "{entry:?} is not an http(s) origin or URL prefix (no query, fragment or user)"
                ),
            );
        }
    }
    list
}

/// The whole identity section. `origins` are the parsed `ALLOWED_ORIGINS`, `public_base_url`
/// the parsed `PUBLIC_BASE_URL`.
pub(super) fn identity(
    c: &mut Collector,
    raw: &RawEnv,
    prod: bool,
    origins: &[String],
    public_base_url: &str,
) -> IdentityConfig {
    let signing = signing(c, raw);
    let minutes = c.number(
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        &raw.access_token_expire_minutes,
        30u64,
        (1, 24 * 60),
    );
    let days = c.number(
        "REFRESH_TOKEN_EXPIRE_DAYS",
        &raw.refresh_token_expire_days,
        7u64,
        (1, 365),
    );
    let reuse_grace = c.secs(
        "REFRESH_REUSE_GRACE_SECS",
        &raw.refresh_reuse_grace_secs,
        10,
        (0, 60),
    );
    let providers = providers(c, raw);
    if !providers.is_empty() && signing.is_none() && raw.jwt_secret_key.is_none() {
        c.push(
            "OAUTH2_PROVIDERS",
            "names providers, but the service signs no tokens: set JWT_SECRET_KEY (or \
             JWT_PRIVATE_KEY_FILE with JWT_ALGORITHM=EdDSA or RS256)",
        );
    }
    // Unset, it is PUBLIC_BASE_URL as already checked (a bad one is reported once, there).
    let redirect_base_url = match &raw.oauth_redirect_base_url {
        Some(_) => http_url(
            c,
            "OAUTH_REDIRECT_BASE_URL",
            &raw.oauth_redirect_base_url,
            public_base_url,
        ),
        None => public_base_url.to_string(),
    };
    let allowed_redirects = allowed_redirects(c, raw, origins);
    if prod && !providers.is_empty() && !redirect_base_url.starts_with("https://") {
        c.push(
            "OAUTH_REDIRECT_BASE_URL",
            format!(
                "{redirect_base_url:?} must be https when APP_ENV=production (it is where the \
                 providers send the sign-in code; PUBLIC_BASE_URL is the default)"
            ),
        );
    }
    IdentityConfig {
        signing,
        access_ttl: Duration::from_secs(minutes * 60),
        refresh_ttl: Duration::from_secs(days * 86_400),
        reuse_grace,
        providers,
        redirect_base_url,
        allowed_redirects,
        issuer: public_base_url.to_string(),
        secure_cookies: prod || public_base_url.starts_with("https://"),
    }
}
