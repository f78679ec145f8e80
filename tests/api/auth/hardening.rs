//! Tokens an attacker can obtain or forge are refused: signed tokens for another application
//! (no `aud`/`iss`, or numeric ones), tokens signed by a key published for encryption, and any
//! credential that fails verification; `X-User-ID` is believed only by a local development
//! service without an SSO (or with an explicit `DEV_MODE=true`).

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::PublicKeyUse;
use serde_json::json;

use super::{list_threads, spawn_verifying, with_token};
use crate::chatkit_client::lessons_dir;
use crate::fake_sso::{FakeSso, claims, jwk, rsa_1, rsa_2, sign, token};
use crate::helpers::{TestApp, pairs, spawn_app, spawn_with_config};

#[tokio::test]
async fn signed_tokens_without_or_with_numeric_iss_and_aud_are_refused() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let mut cases = Vec::new();
    for claim in ["iss", "aud"] {
        let mut missing = claims("ada");
        missing.as_object_mut().unwrap().remove(claim);
        cases.push((format!("no {claim}"), missing));
        let mut numeric = claims("ada");
        numeric[claim] = json!(12345);
        cases.push((format!("numeric {claim}"), numeric));
    }
    let mut listed_issuer = claims("ada");
    listed_issuer["iss"] = json!([crate::fake_sso::ISSUER, "https://evil.test"]);
    cases.push(("iss as a list".into(), listed_issuer));
    for (case, claims) in cases {
        let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
        let (status, challenge, body) = with_token(&app, &token).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token", "{case}");
        assert!(challenge.contains("invalid_token"), "{case}: {challenge}");
    }
    assert_eq!(with_token(&app, &token("ada")).await.0, 200);
}

#[tokio::test]
async fn a_token_signed_with_a_key_published_for_encryption_is_refused() {
    let sso = FakeSso::start().await;
    let mut enc = jwk(&rsa_2(), Algorithm::RS256, "enc-1");
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    sso.add_key(enc);
    let app = spawn_verifying(&sso, &[]).await;
    let token = sign(Algorithm::RS256, "enc-1", &rsa_2(), &claims("ada"));
    let (status, _, body) = with_token(&app, &token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["message"], "unknown signing key");
}

#[tokio::test]
async fn x_user_id_cannot_read_a_victims_threads_in_development_with_an_sso() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[("APP_ENV", "development")]).await;
    let created = app
        .client
        .post(app.url("/v1/threads"))
        .bearer_auth(token("victim"))
        .json(&json!({"lesson_path": crate::chatkit_client::LESSON}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (status, _, body) = list_threads(&app, &[("x-user-id", "victim")]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
}

/// A development service bound to every interface, reached over 127.0.0.1.
async fn spawn_on_all_interfaces(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut vars = pairs(&[
        ("HOST", "0.0.0.0"),
        ("PORT", "0"),
        ("LESSONS_DIR", &lessons_dir()),
        (
            "DATABASE_URL",
            &format!("sqlite://{}/wide.sqlite?mode=rwc", dir.path().display()),
        ),
    ]);
    vars.extend(pairs(extra));
    let config = study_mode_api::config::Config::from_vars(vars).expect("valid configuration");
    let mut app = spawn_with_config(config).await;
    app.addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    app._dir = Some(dir);
    app
}

#[tokio::test]
async fn x_user_id_is_not_believed_on_a_non_loopback_bind_without_dev_mode() {
    let app = spawn_on_all_interfaces(&[]).await;
    let (status, _, body) = list_threads(&app, &[("x-user-id", "victim")]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn explicit_dev_mode_keeps_the_development_principal_on_any_bind() {
    let app = spawn_on_all_interfaces(&[("DEV_MODE", "true")]).await;
    let (status, _, body) = list_threads(&app, &[("x-user-id", "dev-1")]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_credential_nothing_can_verify_is_refused_by_a_local_development_service() {
    let app = spawn_app().await;
    // No credential: the development principal, as `cargo run` gives it.
    let (status, _, body) = list_threads(&app, &[("x-user-id", "dev-1")]).await;
    assert_eq!(status, 200, "{body}");
    for (name, value) in [
        ("authorization", format!("Bearer {}", token("ada"))),
        ("authorization", "Bearer opaque-session-token".to_string()),
        ("x-api-key", "sk_unknown_0123456789abcdef".to_string()),
    ] {
        let (status, challenge, body) =
            list_threads(&app, &[(name, &value), ("x-user-id", "dev-1")]).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(challenge.contains("invalid_token"), "{name}: {challenge}");
    }
}

#[tokio::test]
async fn a_token_that_fails_verification_is_refused_even_with_dev_mode_on() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[("APP_ENV", "development"), ("DEV_MODE", "true")]).await;
    let forged = sign(Algorithm::RS256, "rsa-1", &rsa_2(), &claims("victim"));
    let headers = [
        ("authorization", format!("Bearer {forged}")),
        ("x-user-id", "victim".to_string()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = list_threads(&app, &headers).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["message"], "signature does not verify");
}
