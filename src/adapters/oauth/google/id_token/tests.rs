use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;

// The JWKS verifier's fixed test keys; its test module is private, so the file is included
// again here rather than shared.
#[path = "../../../jwks/test_keys.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod test_keys;

const KID: &str = "k1";

fn key() -> EncodingKey {
    EncodingKey::from_rsa_pem(test_keys::TEST_ONLY_RSA_1_PRIVATE_PEM.as_bytes()).expect("key")
}

fn keys() -> JwkSet {
    let mut jwk = Jwk::from_encoding_key(&key(), Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(KID.into());
    JwkSet { keys: vec![jwk] }
}

fn token(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, claims, &key()).expect("sign")
}

fn claims(iss: &str) -> Value {
    json!({
        "iss": iss,
        "aud": "client",
        "sub": "1234",
        "email": "ada@example.com",
        "email_verified": "true",
        "name": "Ada\u{0} Lovelace",
        "nonce": "n-1",
        "exp": chrono::Utc::now().timestamp() + 600,
    })
}

fn expected(issuer: &str) -> Expected<'_> {
    Expected {
        issuer,
        audience: "client",
        nonce: "n-1",
    }
}

#[test]
fn google_issues_with_and_without_scheme_and_says_verified_as_a_string() {
    for iss in ["https://accounts.google.com", "accounts.google.com"] {
        let profile = verify(
            &token(&claims(iss)),
            &keys(),
            &expected("https://accounts.google.com"),
        )
        .expect("valid");
        assert_eq!(profile.subject, "1234");
        assert!(profile.email_verified);
        assert_eq!(profile.name.as_deref(), Some("Ada Lovelace"));
    }
}

#[test]
fn only_the_configured_issuer_is_accepted_elsewhere() {
    let refused = verify(
        &token(&claims("issuer.test")),
        &keys(),
        &expected("https://issuer.test"),
    );
    assert!(matches!(refused, Err(OAuthError::Refused(_))));
}

#[test]
fn a_missing_nonce_and_other_algorithms_are_refused() {
    let mut no_nonce = claims("https://issuer.test");
    no_nonce.as_object_mut().expect("object").remove("nonce");
    let refused = verify(&token(&no_nonce), &keys(), &expected("https://issuer.test"));
    assert!(matches!(refused, Err(OAuthError::Refused(_))));

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    let hmac = jsonwebtoken::encode(
        &header,
        &claims("https://issuer.test"),
        &EncodingKey::from_secret(test_keys::TEST_ONLY_RSA_1_PUBLIC_PEM.as_bytes()),
    )
    .expect("sign");
    assert!(matches!(kid(&hmac), Err(OAuthError::Refused(_))));
    assert!(matches!(
        verify(&hmac, &keys(), &expected("https://issuer.test")),
        Err(OAuthError::Refused(_))
    ));
}
