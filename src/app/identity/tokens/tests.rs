use std::sync::Arc;

use chrono::Utc;
use secrecy::SecretString;

use super::*;
use crate::domain::identity::User;
use crate::domain::ports::MockRefreshTokenStore;
use crate::domain::principal::Tier;

#[path = "../../../adapters/jwks/test_keys.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod test_keys;

/// Test-only Ed25519 key (PKCS#8 PEM).
const TEST_ONLY_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJfCMo+Hew40y15J/BP3qKvkT//R5FATi6q3Tajz3VYS
-----END PRIVATE KEY-----
";

const ISSUER: &str = "https://api.example.org";

fn user() -> User {
    User {
        id: "usr_1".into(),
        email: Some("a@example.org".into()),
        email_verified: true,
        name: Some("Ada".into()),
        tier: Tier::Premium,
        role: "student".into(),
        created_at: Utc::now(),
        disabled_at: None,
    }
}

fn alive(answer: bool) -> Arc<MockRefreshTokenStore> {
    let mut store = MockRefreshTokenStore::new();
    store
        .expect_family_alive()
        .returning(move |_, _| Ok(answer));
    Arc::new(store)
}

fn keys(signing: SigningKey) -> TokenKeys {
    TokenKeys::new(&signing).expect("keys")
}

async fn round_trip(keys: TokenKeys) -> Result<Principal, AuthError> {
    let issuer = TokenIssuer::new(keys.clone(), ISSUER.into(), Duration::from_secs(60));
    let token = issuer.issue(&user(), "family-1").expect("signed").token;
    let verifier = LocalVerifier::new(keys, ISSUER, alive(true), SessionCache::default());
    assert!(verifier.claims_key_of(&token));
    verifier.verify(&token).await
}

#[tokio::test]
async fn every_supported_key_signs_tokens_its_verifier_accepts() {
    let hmac = keys(SigningKey::Hmac {
        algorithm: Algorithm::HS512,
        secret: SecretString::from("x".repeat(64)),
    });
    assert!(
        hmac.jwks().keys.is_empty(),
        "a shared secret is never published"
    );
    let ed = keys(SigningKey::Asymmetric {
        algorithm: Algorithm::EdDSA,
        pem: SecretString::from(TEST_ONLY_ED25519_PEM),
        path: "ed.pem".into(),
    });
    let rsa = keys(SigningKey::Asymmetric {
        algorithm: Algorithm::RS256,
        pem: SecretString::from(test_keys::TEST_ONLY_RSA_1_PRIVATE_PEM),
        path: "rsa.pem".into(),
    });
    for (keys, kty) in [(ed, "OKP"), (rsa, "RSA")] {
        let published = serde_json::to_value(keys.jwks()).expect("JSON");
        assert_eq!(published["keys"][0]["kty"], kty);
        assert_eq!(published["keys"][0]["kid"], keys.kid());
        assert!(published["keys"][0].get("d").is_none(), "no private part");
        let principal = round_trip(keys).await.expect("verifies");
        assert_eq!(principal.user_id, "usr_1");
        assert_eq!(principal.tier, Tier::Premium);
    }
    assert_eq!(
        round_trip(hmac).await.expect("verifies").email.as_deref(),
        Some("a@example.org")
    );
}

#[tokio::test]
async fn a_token_of_an_ended_session_or_another_issuer_is_refused() {
    let keys = keys(SigningKey::Hmac {
        algorithm: Algorithm::HS256,
        secret: SecretString::from("y".repeat(32)),
    });
    let issuer = TokenIssuer::new(keys.clone(), ISSUER.into(), Duration::from_secs(60));
    let token = issuer.issue(&user(), "family-1").expect("signed").token;
    let ended = LocalVerifier::new(keys.clone(), ISSUER, alive(false), SessionCache::default());
    assert!(matches!(
        ended.verify(&token).await,
        Err(AuthError::Invalid(..))
    ));
    let elsewhere = LocalVerifier::new(
        keys,
        "https://other.example",
        alive(true),
        SessionCache::default(),
    );
    assert_eq!(
        elsewhere.verify(&token).await.unwrap_err().to_string(),
        "token has the wrong issuer"
    );
}
