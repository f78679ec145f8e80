//! Pure rules of the JWKS verifier: which algorithms a key allows, `kid` hygiene, key selection,
//! plain-words reasons for rejections, and claims → Principal.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, errors::ErrorKind};
use serde_json::Value;

use super::{MAX_KID_LEN, invalid};
use crate::domain::ports::{AuthError, InvalidReason};
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

/// Whether the key set publishes `jwk` for checking signatures: `use` must be `sig` and
/// `key_ops` must contain `verify`, when present. An encryption key is not a signing key, even
/// when its numbers would make a signature verify.
pub(super) fn verifies_signatures(jwk: &Jwk) -> bool {
    let use_ok = jwk
        .common
        .public_key_use
        .as_ref()
        .is_none_or(|u| *u == PublicKeyUse::Signature);
    let ops_ok = jwk
        .common
        .key_operations
        .as_ref()
        .is_none_or(|ops| ops.contains(&KeyOperations::Verify));
    use_ok && ops_ok
}

/// The signing key named `kid`; without a `kid`, the only signing key of the set. Keys for
/// other uses are ignored, as if absent.
pub(super) fn select<'a>(set: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    let mut signing = set.keys.iter().filter(|k| verifies_signatures(k));
    match kid {
        Some(kid) => signing.find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => match (signing.next(), signing.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        },
    }
}

/// `iss` must be the configured issuer, as a string: absent, a number or a list is refused.
pub(super) fn check_issuer(iss: Option<&Value>, expected: Option<&str>) -> Result<(), AuthError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match iss {
        None => Err(invalid(InvalidReason::MissingClaim, "token has no issuer")),
        Some(Value::String(iss)) if iss == expected => Ok(()),
        Some(_) => Err(invalid(InvalidReason::WrongIssuer, "wrong issuer")),
    }
}

/// `aud` must be the configured audience, or a list of strings containing it; absent, a number,
/// or a list holding anything but strings is refused.
pub(super) fn check_audience(aud: Option<&Value>, expected: Option<&str>) -> Result<(), AuthError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let accepted = match aud {
        None => {
            return Err(invalid(
                InvalidReason::MissingClaim,
                "token has no audience",
            ));
        }
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(list)) => {
            list.iter().all(Value::is_string) && list.iter().any(|a| a == expected)
        }
        Some(_) => false,
    };
    if accepted {
        Ok(())
    } else {
        Err(invalid(InvalidReason::WrongAudience, "wrong audience"))
    }
}

/// Why a token was rejected, and the plain words for it; library internals are never shown.
pub(super) fn reason(kind: &ErrorKind) -> (InvalidReason, &'static str) {
    use InvalidReason as R;
    match kind {
        ErrorKind::ExpiredSignature => (R::Expired, "token expired"),
        ErrorKind::ImmatureSignature => (R::NotYetValid, "token not yet valid"),
        ErrorKind::InvalidIssuer => (R::WrongIssuer, "wrong issuer"),
        ErrorKind::InvalidAudience => (R::WrongAudience, "wrong audience"),
        ErrorKind::InvalidSignature => (R::BadSignature, "signature does not verify"),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            (R::WrongAlgorithm, "algorithm not allowed")
        }
        ErrorKind::MissingRequiredClaim(_) => (R::MissingClaim, "token lacks a required claim"),
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => (R::UnknownKey, "unknown signing key"),
        _ => (R::Malformed, "malformed token"),
    }
}

/// Maps verified claims to the caller.
pub(super) fn principal(claims: IdentityClaims) -> Result<Principal, AuthError> {
    claims
        .into_principal()
        .map_err(|message| invalid(InvalidReason::MissingClaim, message))
}
