//! Authentication outcomes by credential kind and refusal reason.

use jsonwebtoken::Algorithm;
use serde_json::json;

use super::{scrape, total};
use crate::auth::{list_threads, spawn_verifying, with_token};
use crate::fake_sso::{FakeSso, claims, now, rsa_1, rsa_2, sign, token};

const ADMIN_SECRET: &str = "operator-secret-0123456789";

#[tokio::test]
async fn refused_credentials_are_counted_by_kind_and_reason_and_no_credential_is_a_label() {
    // Arrange: a service verifying the fake SSO's tokens.
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[("ADMIN_SECRET", ADMIN_SECRET)]).await;
    let mut expired = claims("ada");
    expired["exp"] = json!(now() - 3_600);
    let mut audience = claims("ada");
    audience["aud"] = json!("another-app");
    let expired = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &expired);
    let audience = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &audience);
    let forged = sign(Algorithm::RS256, "rsa-1", &rsa_2(), &claims("ada"));
    let unknown_key = format!("sk_{}_{}", "a1b2c3d4e5f6", "Z".repeat(40));

    // Act: one accepted token, then refusals of each kind.
    assert_eq!(with_token(&app, &token("ada")).await.0, 200);
    for refused in [&expired, &audience, &audience, &forged] {
        assert_eq!(with_token(&app, refused).await.0, 401);
    }
    assert_eq!(list_threads(&app, &[]).await.0, 401);
    assert_eq!(
        list_threads(&app, &[("x-api-key", &unknown_key)]).await.0,
        401
    );
    assert_eq!(
        list_threads(&app, &[("authorization", "Basic YWRhOnB3")])
            .await
            .0,
        401
    );
    let wrong_secret = app
        .client
        .post(app.url("/admin/invalidate-cache"))
        .header("x-admin-secret", "not-the-secret-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 403);
    let text = scrape(&app).await;

    // Assert: each under its kind, outcome and reason.
    let count = |kind: &str, outcome: &str, reason: &str| {
        total(
            &text,
            "auth_attempts_total",
            &[("kind", kind), ("outcome", outcome), ("reason", reason)],
        )
    };
    assert_eq!(count("jwt", "ok", "none"), 1.0);
    assert_eq!(count("jwt", "invalid", "expired"), 1.0);
    assert_eq!(count("jwt", "invalid", "wrong_audience"), 2.0);
    assert_eq!(count("jwt", "invalid", "bad_signature"), 1.0);
    assert_eq!(count("none", "missing", "missing"), 1.0);
    assert_eq!(count("api_key", "invalid", "unknown_key"), 1.0);
    assert_eq!(count("malformed", "invalid", "malformed"), 1.0);
    assert_eq!(count("admin_secret", "forbidden", "wrong_secret"), 1.0);
    // Every refusal counted once, and a reason never outside its outcome.
    assert_eq!(
        total(&text, "auth_attempts_total", &[("outcome", "invalid")]),
        6.0
    );
    assert_eq!(
        total(&text, "auth_attempts_total", &[("reason", "expired")]),
        1.0
    );
    for secret in [expired.as_str(), &unknown_key, "not-the-secret-at-all"] {
        assert!(!text.contains(secret), "no client text in labels");
    }
    app.stop().await.unwrap();
}
