//! Unit tests of the JWKS verifier against a fake SSO on 127.0.0.1 with rotatable keys.

use std::sync::Mutex as StdMutex;

use jsonwebtoken::{EncodingKey, Header};
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};
use serde_json::{Value, json};

use super::*;
use crate::domain::principal::Tier;

#[path = "test_keys.rs"]
mod test_keys;
use test_keys::*;

mod claims_and_keys;

const ISSUER: &str = "https://sso.test";
const AUDIENCE: &str = "study-mode";

/// What the fake SSO serves and how often its key set was asked for.
#[derive(Default)]
struct Fake {
    keys: Vec<Jwk>,
    down: bool,
    jwks_hits: usize,
    /// Pause before every answer.
    delay: Duration,
}

type Shared = Arc<StdMutex<Fake>>;

/// Starts the fake SSO; returns its base URL and its shared state.
async fn fake_sso(keys: Vec<Jwk>) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let base = format!("http://{addr}");
    let state: Shared = Arc::new(StdMutex::new(Fake {
        keys,
        ..Fake::default()
    }));
    let seen = state.clone();
    let jwks_uri = format!("{base}/keys");
    let endpoint = poem::endpoint::make(move |req: Request| {
        let mut fake = seen.lock().expect("fake lock");
        let delay = fake.delay;
        let response = if fake.down {
            Response::builder()
                .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
                .finish()
        } else {
            match req.uri().path() {
                "/.well-known/openid-configuration" => {
                    Response::builder().body(json!({ "jwks_uri": jwks_uri }).to_string())
                }
                "/keys" => {
                    fake.jwks_hits += 1;
                    let set = JwkSet {
                        keys: fake.keys.clone(),
                    };
                    Response::builder().body(serde_json::to_string(&set).expect("jwks json"))
                }
                _ => Response::builder()
                    .status(poem::http::StatusCode::NOT_FOUND)
                    .finish(),
            }
        };
        async move {
            tokio::time::sleep(delay).await;
            response
        }
    });
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    (base, state)
}

fn rsa_1() -> EncodingKey {
    EncodingKey::from_rsa_pem(TEST_ONLY_RSA_1_PRIVATE_PEM.as_bytes()).expect("rsa 1")
}

fn rsa_2() -> EncodingKey {
    EncodingKey::from_rsa_pem(TEST_ONLY_RSA_2_PRIVATE_PEM.as_bytes()).expect("rsa 2")
}

fn ec_1() -> EncodingKey {
    EncodingKey::from_ec_pem(TEST_ONLY_EC_1_PRIVATE_PEM.as_bytes()).expect("ec 1")
}

/// Public JWK of `key` under `kid`.
fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({
        "sub": "user-1",
        "email": "ada@example.com",
        "name": "Ada",
        "role": "student",
        "tier": "premium",
        "tenant_id": "org-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 600,
    })
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn settings(base: &str) -> JwksSettings {
    JwksSettings {
        sso_url: Some(base.to_string()),
        issuer: Some(ISSUER.to_string()),
        audience: Some(AUDIENCE.to_string()),
        min_refresh: Duration::ZERO,
        ..JwksSettings::default()
    }
}

/// A verifier over a fake SSO publishing `rsa-1` and `ec-1`.
async fn setup() -> (JwksVerifier, Shared) {
    crate::bootstrap::install_tls_provider();
    let keys = vec![
        jwk(&rsa_1(), Algorithm::RS256, "rsa-1"),
        jwk(&ec_1(), Algorithm::ES256, "ec-1"),
    ];
    let (base, state) = fake_sso(keys).await;
    let verifier = JwksVerifier::new(settings(&base)).expect("verifier");
    (verifier, state)
}

fn hits(state: &Shared) -> usize {
    state.lock().expect("fake lock").jwks_hits
}

async fn rejection(verifier: &JwksVerifier, token: &str) -> String {
    match verifier.verify(token).await {
        Err(AuthError::Invalid(_, reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_rs256_token_yields_the_principal_of_its_claims() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    let principal = verifier.verify(&token).await.expect("verified");
    assert_eq!(
        principal,
        Principal {
            user_id: "user-1".to_string(),
            organization_id: Some("org-1".to_string()),
            email: Some("ada@example.com".to_string()),
            name: Some("Ada".to_string()),
            role: Some("student".to_string()),
            tier: Tier::Premium,
        }
    );
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn valid_es256_token_is_accepted_and_keys_are_cached() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::ES256, "ec-1", &ec_1(), &claims());
    assert_eq!(verifier.verify(&token).await.expect("ok").user_id, "user-1");
    assert_eq!(verifier.verify(&token).await.expect("ok").user_id, "user-1");
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn expired_token_is_rejected_as_expired() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims["exp"] = json!(now() - 3600);
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(rejection(&verifier, &token).await, "token expired");
}

#[tokio::test]
async fn token_from_the_future_is_not_yet_valid() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims["nbf"] = json!(now() + 3600);
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(rejection(&verifier, &token).await, "token not yet valid");
}

#[tokio::test]
async fn token_of_another_issuer_is_rejected() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims["iss"] = json!("https://evil.test");
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(rejection(&verifier, &token).await, "wrong issuer");
}

#[tokio::test]
async fn token_for_another_audience_is_rejected() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims["aud"] = json!("someone-else");
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(rejection(&verifier, &token).await, "wrong audience");
}

#[tokio::test]
async fn token_signed_by_another_key_does_not_verify() {
    let (verifier, _) = setup().await;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_2(), &claims());
    assert_eq!(
        rejection(&verifier, &token).await,
        "signature does not verify"
    );
}

#[tokio::test]
async fn unsigned_alg_none_token_is_rejected() {
    let (verifier, state) = setup().await;
    let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjk5OTk5OTk5OTl9.";
    let reason = rejection(&verifier, token).await;
    assert!(
        reason == "malformed token" || reason == "algorithm not allowed",
        "{reason}"
    );
    assert_eq!(hits(&state), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let (verifier, _) = setup().await;
    let secret = EncodingKey::from_secret(TEST_ONLY_RSA_1_PUBLIC_PEM.as_bytes());
    let token = sign(Algorithm::HS256, "rsa-1", &secret, &claims());
    assert_eq!(rejection(&verifier, &token).await, "algorithm not allowed");
}

#[tokio::test]
async fn algorithm_that_does_not_match_the_key_type_is_rejected() {
    let (verifier, _) = setup().await;
    let token = sign(Algorithm::ES256, "rsa-1", &ec_1(), &claims());
    assert_eq!(rejection(&verifier, &token).await, "algorithm not allowed");
}

#[tokio::test]
async fn kid_with_path_characters_is_rejected_without_a_fetch() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::RS256, "../../etc/passwd", &rsa_1(), &claims());
    assert_eq!(rejection(&verifier, &token).await, "malformed token");
    assert_eq!(hits(&state), 0);
}

#[tokio::test]
async fn token_over_8_kb_is_rejected_without_a_fetch() {
    let (verifier, state) = setup().await;
    let token = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(rejection(&verifier, &token).await, "token too large");
    assert_eq!(hits(&state), 0);
}

#[tokio::test]
async fn token_without_subject_is_rejected_without_panicking() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims.as_object_mut().expect("object").remove("sub");
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(rejection(&verifier, &token).await, "token has no subject");
}

#[tokio::test]
async fn rotated_key_is_picked_up_with_exactly_one_refetch() {
    let (verifier, state) = setup().await;
    let old = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    verifier.verify(&old).await.expect("old key");
    assert_eq!(hits(&state), 1);
    state
        .lock()
        .expect("fake lock")
        .keys
        .push(jwk(&rsa_2(), Algorithm::RS256, "rsa-2"));
    let new = sign(Algorithm::RS256, "rsa-2", &rsa_2(), &claims());
    verifier.verify(&new).await.expect("rotated key");
    verifier.verify(&new).await.expect("rotated key again");
    assert_eq!(hits(&state), 2);
}

#[tokio::test]
async fn unknown_kid_within_min_refresh_does_not_refetch() {
    crate::bootstrap::install_tls_provider();
    let (base, state) = fake_sso(vec![jwk(&rsa_1(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = JwksVerifier::new(JwksSettings {
        min_refresh: Duration::from_secs(3600),
        ..settings(&base)
    })
    .expect("verifier");
    let unknown = sign(Algorithm::RS256, "rsa-9", &rsa_2(), &claims());
    assert_eq!(rejection(&verifier, &unknown).await, "unknown signing key");
    assert_eq!(rejection(&verifier, &unknown).await, "unknown signing key");
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn sso_down_with_warm_keys_still_verifies() {
    crate::bootstrap::install_tls_provider();
    let (base, state) = fake_sso(vec![jwk(&rsa_1(), Algorithm::RS256, "rsa-1")]).await;
    // A zero TTL forces a refetch on every call, so the fallback to stale keys is exercised.
    let verifier = JwksVerifier::new(JwksSettings {
        cache_ttl: Duration::ZERO,
        ..settings(&base)
    })
    .expect("verifier");
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    verifier.verify(&token).await.expect("warm");
    state.lock().expect("fake lock").down = true;
    // A different token, so the stale keys are used rather than the remembered verification.
    let mut other = claims();
    other["sub"] = json!("user-2");
    let other = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &other);
    assert_eq!(
        verifier.verify(&other).await.expect("stale").user_id,
        "user-2"
    );
}

#[tokio::test]
async fn a_verified_token_is_remembered_until_it_expires() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    verifier.verify(&token).await.expect("verified");
    // Even with the SSO gone and no keys fetchable, the same token verifies from memory.
    state.lock().expect("fake lock").down = true;
    verifier.cache.write().await.set = None;
    assert_eq!(
        verifier.verify(&token).await.expect("remembered").user_id,
        "user-1"
    );
    // A remembered token past exp + leeway is checked again, and refused.
    let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let (principal, _) = verifier.verified.get(&fingerprint).expect("remembered");
    verifier
        .verified
        .insert(fingerprint, (principal, now() - 61));
    assert!(verifier.verify(&token).await.is_err());
}

#[tokio::test]
async fn withdrawing_a_key_forgets_the_tokens_it_signed() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    verifier.verify(&token).await.expect("verified");
    state.lock().expect("fake lock").keys = vec![jwk(&ec_1(), Algorithm::ES256, "ec-1")];
    // An unknown kid makes the verifier refetch; the new set lacks rsa-1.
    let unknown = sign(Algorithm::RS256, "rsa-9", &rsa_2(), &claims());
    assert_eq!(rejection(&verifier, &unknown).await, "unknown signing key");
    assert_eq!(rejection(&verifier, &token).await, "unknown signing key");
}

#[tokio::test]
async fn requests_arriving_during_the_first_key_fetch_wait_for_it() {
    crate::bootstrap::install_tls_provider();
    let (base, state) = fake_sso(vec![jwk(&rsa_1(), Algorithm::RS256, "rsa-1")]).await;
    state.lock().expect("fake lock").delay = Duration::from_millis(200);
    // The default refresh spacing: a failed cold fetch is not retried for 30 s, which must
    // not turn away the requests queued behind a fetch that is still running.
    let verifier = Arc::new(
        JwksVerifier::new(JwksSettings {
            min_refresh: Duration::from_secs(30),
            ..settings(&base)
        })
        .expect("verifier"),
    );
    let calls = (0..20).map(|i| {
        let verifier = verifier.clone();
        let mut claims = claims();
        claims["sub"] = json!(format!("user-{i}"));
        let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
        tokio::spawn(async move { verifier.verify(&token).await })
    });
    for outcome in futures::future::join_all(calls).await {
        outcome
            .expect("task")
            .expect("verified after the one fetch");
    }
    assert_eq!(hits(&state), 1, "one fetch served every waiting request");
}

#[tokio::test]
async fn sso_down_cold_is_unavailable() {
    let (verifier, state) = setup().await;
    state.lock().expect("fake lock").down = true;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::Unavailable)
    ));
}

#[tokio::test]
async fn fallback_path_is_used_without_a_discovery_document() {
    crate::bootstrap::install_tls_provider();
    let (base, _) = fake_sso(vec![]).await;
    let verifier = JwksVerifier::new(settings(&format!("{base}/nowhere"))).expect("verifier");
    assert_eq!(
        verifier.jwks_url().await.expect("url"),
        format!("{base}/nowhere/api/auth/jwks")
    );
}

fn bare_claims(extra: Value) -> IdentityClaims {
    let mut value = json!({ "sub": "u" });
    if let (Some(target), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    serde_json::from_value(value).expect("claims")
}

#[test]
fn admin_role_makes_an_admin_tier_and_default_is_free() {
    let admin = principal(bare_claims(json!({ "role": "admin" }))).expect("principal");
    assert_eq!(admin.tier, Tier::Admin);
    let plain = principal(bare_claims(json!({}))).expect("principal");
    assert_eq!(plain.tier, Tier::Free);
    assert_eq!(plain.organization_id, None);
}

#[test]
fn organization_falls_back_from_tenant_to_organization_id_to_the_first_of_the_list() {
    let org = principal(bare_claims(
        json!({ "organization_id": "o", "organization_ids": ["x"] }),
    ))
    .expect("principal");
    assert_eq!(org.organization_id.as_deref(), Some("o"));
    let list = principal(bare_claims(json!({ "organization_ids": ["x", "y"] }))).expect("p");
    assert_eq!(list.organization_id.as_deref(), Some("x"));
}

#[test]
fn kid_alphabet_is_restricted_and_bounded() {
    assert!(valid_kid("key-1_a.b"));
    assert!(!valid_kid("a/b"));
    assert!(!valid_kid(""));
    assert!(!valid_kid(&"k".repeat(MAX_KID_LEN + 1)));
}
