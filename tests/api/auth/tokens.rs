//! JWTs and opaque tokens against a fake SSO, on the production profile.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use super::{list_threads, spawn_verifying, with_token};
use crate::fake_sso::{self, FakeSso, claims, ec_1, jwk, now, rsa_1, rsa_2, sign, token};

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let rs = token("ada");
    let es = sign(Algorithm::ES256, "ec-1", &ec_1(), &claims("ada"));
    for token in [rs, es] {
        let (status, _, body) = with_token(&app, &token).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn refused_tokens_get_401_with_a_challenge_naming_the_reason() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let mut expired = claims("ada");
    expired["exp"] = json!(now() - 3_600);
    let mut early = claims("ada");
    early["nbf"] = json!(now() + 3_600);
    let mut issuer = claims("ada");
    issuer["iss"] = json!("https://evil.test");
    let mut audience = claims("ada");
    audience["aud"] = json!("another-app");
    let mut no_sub = claims("ada");
    no_sub.as_object_mut().unwrap().remove("sub");
    let hmac = EncodingKey::from_secret(fake_sso::rsa_1_public_pem());
    let unsigned = {
        let header = base64_url(br#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#);
        format!(
            "{header}.{}.",
            base64_url(claims("ada").to_string().as_bytes())
        )
    };
    let cases = [
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_1(), &expired),
            "token expired",
        ),
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_1(), &early),
            "token not yet valid",
        ),
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_1(), &issuer),
            "wrong issuer",
        ),
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_1(), &audience),
            "wrong audience",
        ),
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_2(), &claims("ada")),
            "signature does not verify",
        ),
        (unsigned, "malformed token"),
        (
            sign(Algorithm::HS256, "rsa-1", &hmac, &claims("ada")),
            "algorithm not allowed",
        ),
        (
            sign(
                Algorithm::RS256,
                "../../etc/passwd",
                &rsa_1(),
                &claims("ada"),
            ),
            "malformed token",
        ),
        (
            format!("{}.{}.x", "a".repeat(5_000), "b".repeat(5_000)),
            "token too large",
        ),
        (
            sign(Algorithm::RS256, "rsa-1", &rsa_1(), &no_sub),
            "token has no subject",
        ),
    ];
    for (token, reason) in cases {
        let (status, challenge, body) = with_token(&app, &token).await;
        assert_eq!(status, 401, "{reason}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token", "{reason}");
        assert_eq!(body["error"]["message"], reason);
        assert!(
            challenge.contains("error=\"invalid_token\"")
                && challenge.contains(&format!("error_description=\"{reason}\"")),
            "{reason}: {challenge}"
        );
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn requests_without_credentials_are_refused_in_production() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    let (status, challenge, body) = list_threads(&app, &[("x-user-id", "mallory")]).await;
    assert_eq!(status, 401);
    assert_eq!(challenge, "Bearer realm=\"study-mode-api\"");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _, body) = list_threads(&app, &[("authorization", "Basic YWRhOnB3")]).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("Authorization must use the Bearer scheme"))
    );
    for (method, path) in [
        (reqwest::Method::POST, "/chatkit"),
        (reqwest::Method::GET, "/chatkit/suggestions?lesson_path=a/b"),
        (reqwest::Method::GET, "/v1/lessons?path=a/b"),
        (reqwest::Method::GET, "/v1/rate-limit"),
        (reqwest::Method::POST, "/v1/threads"),
        (reqwest::Method::DELETE, "/v1/threads/thr_x"),
        (reqwest::Method::POST, "/admin/invalidate-cache"),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .header("x-user-id", "mallory")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{method} {path}");
    }
    // Public routes stay public.
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/openapi.json").await.status(), 200);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_one_fetch() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    assert_eq!(with_token(&app, &token("ada")).await.0, 200);
    let before = sso.jwks_hits();
    sso.add_key(jwk(&rsa_2(), Algorithm::RS256, "rsa-2"));
    let rotated = sign(Algorithm::RS256, "rsa-2", &rsa_2(), &claims("ada"));
    for _ in 0..3 {
        assert_eq!(with_token(&app, &rotated).await.0, 200);
    }
    assert_eq!(sso.jwks_hits(), before + 1, "one refetch for the new kid");
}

#[tokio::test]
async fn warm_keys_survive_an_sso_outage_and_a_cold_start_is_503() {
    let sso = FakeSso::start().await;
    let warm = spawn_verifying(&sso, &[]).await;
    assert_eq!(with_token(&warm, &token("ada")).await.0, 200);
    sso.set_down(true);
    // Another token, so the keys are used again rather than the remembered verification.
    assert_eq!(with_token(&warm, &token("bob")).await.0, 200);

    let cold = spawn_verifying(&sso, &[]).await;
    let (status, _, body) = with_token(&cold, &token("ada")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "auth_unavailable");
}

#[tokio::test]
async fn opaque_tokens_are_looked_up_once_and_cached() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    sso.add_opaque(
        "opaque-ada-token",
        json!({"sub": "ada", "email": "ada@example.com"}),
    );
    for _ in 0..3 {
        let (status, _, body) = with_token(&app, "opaque-ada-token").await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(sso.userinfo_hits(), 1);
    let (status, _, body) = with_token(&app, "opaque-unknown").await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["message"],
        "token not recognised by the identity provider"
    );
}

#[tokio::test]
async fn a_verified_token_decides_the_identity_not_the_headers() {
    let sso = FakeSso::start().await;
    // Development profile with DEV_MODE on: headers would name the user without a token.
    let app = spawn_verifying(&sso, &[("APP_ENV", "development"), ("DEV_MODE", "true")]).await;
    let created = app
        .client
        .post(app.url("/v1/threads"))
        .header("authorization", format!("Bearer {}", token("ada")))
        .header("x-user-id", "mallory")
        .json(&json!({"lesson_path": crate::chatkit_client::LESSON}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (_, _, as_mallory) = list_threads(&app, &[("x-user-id", "mallory")]).await;
    assert_eq!(
        as_mallory["data"],
        json!([]),
        "the thread is ada's, not mallory's"
    );
    let (_, _, as_ada) = with_token(&app, &token("ada")).await;
    assert_eq!(as_ada["data"].as_array().map(Vec::len), Some(1));
}
