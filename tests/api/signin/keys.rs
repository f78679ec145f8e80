//! Signing keys: HS256 by default, EdDSA from a key file with its public key at
//! `/.well-known/jwks.json`, a token of another key refused; TEST_MODE and its limits.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use study_mode_api::config::Config;

use super::Auth;
use crate::helpers::pairs;

/// Test-only Ed25519 private key (PKCS#8 PEM), generated for these tests.
const TEST_ONLY_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJfCMo+Hew40y15J/BP3qKvkT//R5FATi6q3Tajz3VYS
-----END PRIVATE KEY-----
";

fn header_alg(token: &str) -> Algorithm {
    jsonwebtoken::decode_header(token).expect("JWT header").alg
}

#[tokio::test]
async fn hs256_is_the_default_and_publishes_no_key() {
    // Arrange
    let auth = Auth::start(&[]).await;
    // Act
    let (access, _) = auth.tokens("github").await;
    // Assert
    assert_eq!(header_alg(&access), Algorithm::HS256);
    let (status, jwks) = auth.app.get_json("/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"], serde_json::json!([]));
}

#[tokio::test]
async fn eddsa_tokens_verify_against_the_published_key_set() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ed25519.pem");
    std::fs::write(&key, TEST_ONLY_ED25519_PEM).unwrap();
    let auth = Auth::start(&[
        ("JWT_SECRET_KEY", ""),
        ("JWT_ALGORITHM", "EdDSA"),
        ("JWT_PRIVATE_KEY_FILE", key.to_str().unwrap()),
    ])
    .await;
    // Act
    let (access, _) = auth.tokens("github").await;
    let jwks: JwkSet = auth
        .app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    // Assert: another service verifies the token with the published key alone
    assert_eq!(header_alg(&access), Algorithm::EdDSA);
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["study-mode-api"]);
    let claims =
        jsonwebtoken::decode::<Value>(&access, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("verifies with the published key")
            .claims;
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
    for claim in [
        "email", "name", "tier", "role", "iat", "exp", "iss", "aud", "jti",
    ] {
        assert!(claims.get(claim).is_some(), "{claim} in {claims}");
    }
    let (status, _) = auth.get_as(&access, "/auth/me").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_signed_by_another_deployment_is_refused() {
    // Arrange: two deployments with different secrets
    let ours = Auth::start(&[]).await;
    let theirs = Auth::start(&[(
        "JWT_SECRET_KEY",
        "another-deployments-secret-0123456789-abcdefg",
    )])
    .await;
    let (their_token, _) = theirs.tokens("github").await;
    // Act
    let (status, body) = ours.get_as(&their_token, "/v1/threads").await;
    // Assert
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
}

#[test]
fn test_mode_is_refused_in_production_and_is_one_switch_with_dev_mode() {
    let config = |vars: &[(&str, &str)]| Config::from_vars(pairs(vars));
    let err = config(&[
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", "https://book.example"),
        ("TEST_MODE", "true"),
    ])
    .expect_err("production refuses TEST_MODE");
    assert!(err.problems.iter().any(|p| p.var == "TEST_MODE"), "{err}");
    let on = config(&[("TEST_MODE", "true"), ("HOST", "0.0.0.0")]).expect("valid");
    assert!(on.dev.enabled, "TEST_MODE=true turns the test principal on");
    let err = config(&[("TEST_MODE", "true"), ("DEV_MODE", "false")])
        .expect_err("two names of one switch must agree");
    assert!(err.problems.iter().any(|p| p.var == "TEST_MODE"), "{err}");
}

#[test]
fn signing_settings_are_validated_together() {
    let err = Config::from_vars(pairs(&[
        ("JWT_SECRET_KEY", "short"),
        ("JWT_ALGORITHM", "HS999"),
        ("OAUTH2_PROVIDERS", "github,gitlab"),
        ("AUTH_ALLOWED_REDIRECTS", "not a url"),
    ]))
    .expect_err("invalid");
    let vars: Vec<&str> = err.problems.iter().map(|p| p.var.as_str()).collect();
    for var in [
        "JWT_SECRET_KEY",
        "JWT_ALGORITHM",
        "OAUTH2_PROVIDERS",
        "OAUTH_GITHUB_CLIENT_ID",
        "OAUTH_GITHUB_CLIENT_SECRET",
        "AUTH_ALLOWED_REDIRECTS",
    ] {
        assert!(vars.contains(&var), "{var} in {vars:?}");
    }
    assert!(
        !err.to_string().contains("short"),
        "the secret is never echoed: {err}"
    );
}
