//! Pure rules of the JWKS verifier: which algorithms a key allows, `kid` hygiene, key selection,
//! plain-words reasons for rejections, and claims → Principal.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, errors::ErrorKind};

use super::{MAX_KID_LEN, invalid};
use crate::domain::ports::AuthError;
use crate::domain::principal::{IdentityClaims, Principal};

/// Key family an algorithm needs; `None` for HMAC, which is never accepted.
pub(super) fn family_of(alg: Algorithm) -> Option<&'static str> {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Some("RSA"),
        Algorithm::ES256 | Algorithm::ES384 => Some("EC"),
        Algorithm::EdDSA => Some("OKP"),
        // HMAC, and any algorithm a later release adds, until reviewed.
        _ => None,
    }
}

/// Whether `jwk` is of the family `alg` needs and, when it names an algorithm, that one.
pub(super) fn key_allows(jwk: &Jwk, alg: Algorithm) -> bool {
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => "RSA",
        AlgorithmParameters::EllipticCurve(_) => "EC",
        AlgorithmParameters::OctetKeyPair(_) => "OKP",
        _ => return false,
    };
    let named_ok = jwk
        .common
        .key_algorithm
        .is_none_or(|named| format!("{named:?}") == format!("{alg:?}"));
    family_of(alg) == Some(family) && named_ok
}

/// `kid` values are echoed into logs and lookups, so only a safe alphabet is accepted.
pub(super) fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The key named `kid`; without a `kid`, the only key of the set.
pub(super) fn select<'a>(set: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

/// Plain-words reason for a rejected token; library internals are never shown.
pub(super) fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSignature => "signature does not verify",
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => "algorithm not allowed",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => "unknown signing key",
        _ => "malformed token",
    }
}

/// Maps verified claims to the caller.
pub(super) fn principal(claims: IdentityClaims) -> Result<Principal, AuthError> {
    claims.into_principal().map_err(invalid)
}
