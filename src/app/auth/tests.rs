//! The authenticator routes each credential to its verifier and reads API keys safely.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::domain::api_key::{ApiKeyRecord, hash_secret};
use crate::domain::ports::{MockApiKeyStore, MockTokenVerifier};
use crate::domain::principal::Tier;

const SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789";

fn key(revoked: bool) -> ApiKeyRecord {
    ApiKeyRecord {
        id: "k1".into(),
        name: "ci".into(),
        scopes: vec!["lessons:purge".into()],
        tier: Tier::Premium,
        secret_hash: hash_secret(SECRET),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: revoked.then(Utc::now),
    }
}

fn store(record: Option<ApiKeyRecord>) -> Arc<dyn ApiKeyStore> {
    let mut store = MockApiKeyStore::new();
    store.expect_find().returning(move |_| Ok(record.clone()));
    store.expect_touch().returning(|_, _| Ok(()));
    Arc::new(store)
}

fn verifier(user: &'static str) -> Arc<dyn TokenVerifier> {
    let mut verifier = MockTokenVerifier::new();
    verifier.expect_verify().returning(move |_| {
        Ok(Principal {
            user_id: user.into(),
            organization_id: None,
            email: None,
            name: None,
            role: None,
            tier: Tier::Free,
        })
    });
    Arc::new(verifier)
}

fn reason(result: Result<Caller, AuthError>) -> String {
    match result {
        Err(AuthError::Invalid(_, reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn credentials_are_classified_by_shape() {
    assert_eq!(Credential::Bearer("a.b.c").kind(), CredentialKind::Jwt);
    assert_eq!(
        Credential::Bearer("opaque-token").kind(),
        CredentialKind::Opaque
    );
    assert_eq!(Credential::Bearer("sk_k1_x").kind(), CredentialKind::ApiKey);
    assert_eq!(
        Credential::ApiKey("anything").kind(),
        CredentialKind::ApiKey
    );
}

#[tokio::test]
async fn each_kind_goes_to_its_verifier() {
    let auth = Authenticator::new(
        Some(verifier("jwt-user")),
        Some(verifier("opaque-user")),
        None,
    );
    let jwt = auth
        .authenticate(Credential::Bearer("a.b.c"))
        .await
        .expect("jwt");
    assert_eq!(
        (jwt.principal.user_id.as_str(), jwt.via),
        ("jwt-user", Via::Jwt)
    );
    let opaque = auth
        .authenticate(Credential::Bearer("xyz"))
        .await
        .expect("opaque");
    assert_eq!(opaque.principal.user_id, "opaque-user");
    assert_eq!(opaque.via, Via::Opaque);
}

#[tokio::test]
async fn unconfigured_kinds_and_huge_tokens_are_refused_without_lookup() {
    let auth = Authenticator::none();
    assert_eq!(
        reason(auth.authenticate(Credential::Bearer("a.b.c")).await),
        "JWTs are not accepted here"
    );
    assert_eq!(
        reason(auth.authenticate(Credential::Bearer("xyz")).await),
        "opaque tokens are not accepted here"
    );
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    let strict = Authenticator::new(Some(verifier("never")), None, None);
    assert_eq!(
        reason(strict.authenticate(Credential::Bearer(&huge)).await),
        "token too large"
    );
    assert!(matches!(
        auth.authenticate(Credential::Bearer("  ")).await,
        Err(AuthError::Missing)
    ));
}

#[tokio::test]
async fn a_valid_api_key_yields_its_principal_and_scopes() {
    let auth = Authenticator::new(None, None, Some(store(Some(key(false)))));
    let caller = auth
        .authenticate(Credential::ApiKey(&format!("sk_k1_{SECRET}")))
        .await
        .expect("key accepted");
    assert_eq!(caller.principal.user_id, "apikey:k1");
    assert!(caller.allows("lessons:purge"));
    assert!(!caller.allows("admin"));
}

#[tokio::test]
async fn wrong_secret_unknown_id_revoked_and_malformed_keys_are_refused() {
    let wrong = format!("sk_k1_{}", "Z".repeat(42));
    let auth = Authenticator::new(None, None, Some(store(Some(key(false)))));
    assert_eq!(
        reason(auth.authenticate(Credential::ApiKey(&wrong)).await),
        "unknown API key"
    );
    let auth = Authenticator::new(None, None, Some(store(None)));
    let good = format!("sk_k1_{SECRET}");
    assert_eq!(
        reason(auth.authenticate(Credential::ApiKey(&good)).await),
        "unknown API key"
    );
    let auth = Authenticator::new(None, None, Some(store(Some(key(true)))));
    assert_eq!(
        reason(auth.authenticate(Credential::Bearer(&good)).await),
        "API key revoked"
    );
    assert_eq!(
        reason(auth.authenticate(Credential::ApiKey("sk_nope")).await),
        "malformed API key"
    );
}

#[tokio::test]
async fn keys_of_the_wrong_shape_are_refused_without_a_store_query() {
    let mut untouched = MockApiKeyStore::new();
    untouched.expect_find().never();
    let auth = Authenticator::new(None, None, Some(Arc::new(untouched)));
    let long = format!("sk_k1_{}", "a".repeat(200));
    for shape in [
        format!("pk_k1_{SECRET}"),                 // wrong prefix
        format!("sk_K1_{SECRET}"),                 // id not lowercase
        format!("sk_{}_{SECRET}", "a".repeat(33)), // id too long
        "sk_k1_short".to_string(),                 // secret too short
        format!("sk_k1_{}!", &SECRET[1..]),        // secret not alphanumeric
        format!("sk_k1{SECRET}"),                  // no separator
        long,                                      // over the length limit
    ] {
        assert_eq!(
            reason(auth.authenticate(Credential::ApiKey(&shape)).await),
            "malformed API key",
            "{shape}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_key_store_is_unavailable_not_invalid() {
    let mut failing = MockApiKeyStore::new();
    failing
        .expect_find()
        .returning(|_| Err(StoreError::Unavailable));
    let auth = Authenticator::new(None, None, Some(Arc::new(failing)));
    let result = auth
        .authenticate(Credential::ApiKey(&format!("sk_k1_{SECRET}")))
        .await;
    assert!(matches!(result, Err(AuthError::Unavailable)));
}

#[test]
fn only_keys_and_the_operator_secret_grant_scopes() {
    assert!(Caller::operator().allows("admin"));
    let user = Caller {
        via: Via::Jwt,
        ..Caller::operator()
    };
    assert!(!user.allows("admin"));
}
