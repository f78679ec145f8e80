//! Checks of Google's ID token: RS256 under a published key, issuer, audience, expiry and
//! nonce; then the profile it vouches for.

use std::collections::HashSet;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::super::{MAX_NAME_CHARS, bounded, bounded_email, bounded_subject};
use crate::domain::identity::{Provider, ProviderProfile};
use crate::domain::ports::OAuthError;
use crate::domain::principal::MAX_TOKEN_BYTES;

#[cfg(test)]
mod tests;

/// Longest `kid` accepted.
const MAX_KID_LEN: usize = 128;

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// Google's issuer, which also signs its tokens with the scheme-less form.
const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// What the token must say.
pub(super) struct Expected<'a> {
    /// Configured issuer (no trailing slash).
    pub(super) issuer: &'a str,
    /// The client id.
    pub(super) audience: &'a str,
    /// The nonce of the authorization request.
    pub(super) nonce: &'a str,
}

/// The claims read from a verified token.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

fn refused(reason: &str) -> OAuthError {
    OAuthError::Refused(reason.to_string())
}

/// The `kid` of an RS256 token; anything else is refused before any key is looked up.
pub(super) fn kid(token: &str) -> Result<String, OAuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(refused("ID token too large"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed ID token"))?;
    if header.alg != Algorithm::RS256 {
        return Err(refused("ID token algorithm not allowed"));
    }
    let kid = header
        .kid
        .ok_or_else(|| refused("ID token without key id"))?;
    let valid = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(refused("malformed ID token"));
    }
    Ok(kid)
}

/// The RSA signing key `kid` of the set.
pub(super) fn find<'a>(set: &'a JwkSet, kid: &str) -> Option<&'a Jwk> {
    set.keys.iter().find(|key| {
        key.common.key_id.as_deref() == Some(kid)
            && matches!(key.algorithm, AlgorithmParameters::RSA(_))
            && key
                .common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == PublicKeyUse::Signature)
            && key
                .common
                .key_algorithm
                .is_none_or(|alg| format!("{alg:?}") == "RS256")
    })
}

/// Verifies `token` under the key set and returns who it names.
pub(super) fn verify(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<ProviderProfile, OAuthError> {
    let kid = kid(token)?;
    let jwk = find(keys, &kid).ok_or_else(|| refused("unknown signing key"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| refused("unknown signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = vec![Algorithm::RS256];
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
        .into_iter()
        .map(String::from)
        .collect::<HashSet<_>>();
    validation.set_audience(&[expected.audience]);
    let mut issuers = vec![expected.issuer];
    if expected.issuer == GOOGLE_ISSUER {
        issuers.push("accounts.google.com");
    }
    validation.set_issuer(&issuers);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|err| {
        use jsonwebtoken::errors::ErrorKind;
        refused(match err.kind() {
            ErrorKind::ExpiredSignature => "ID token expired",
            ErrorKind::InvalidAudience => "ID token for another client",
            ErrorKind::InvalidIssuer => "ID token from another issuer",
            ErrorKind::InvalidSignature => "ID token signature invalid",
            _ => "ID token invalid",
        })
    })?;
    let claims = data.claims;
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|nonce| bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())));
    if !nonce_ok {
        return Err(refused("ID token nonce mismatch"));
    }
    let subject =
        bounded_subject(&claims.sub).ok_or_else(|| refused("ID token subject invalid"))?;
    let email = claims.email.as_deref().and_then(bounded_email);
    let verified = matches!(claims.email_verified, Some(Value::Bool(true)))
        || matches!(&claims.email_verified, Some(Value::String(s)) if s == "true");
    Ok(ProviderProfile {
        provider: Provider::Google,
        subject,
        email_verified: verified && email.is_some(),
        email,
        name: claims
            .name
            .as_deref()
            .and_then(|name| bounded(name, MAX_NAME_CHARS)),
    })
}
