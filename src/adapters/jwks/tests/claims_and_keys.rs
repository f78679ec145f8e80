//! Issuer and audience are required when configured and must be strings; keys published for
//! another use than verifying signatures are ignored; https-only verifiers refuse http.

use jsonwebtoken::jwk::{KeyOperations, PublicKeyUse};
use serde_json::json;

use super::*;

#[tokio::test]
async fn tokens_without_issuer_or_audience_are_refused_when_both_are_configured() {
    let (verifier, _) = setup().await;
    for claim in ["iss", "aud"] {
        let mut claims = claims();
        claims.as_object_mut().expect("object").remove(claim);
        let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
        assert_eq!(
            rejection(&verifier, &token).await,
            "token lacks a required claim",
            "{claim}"
        );
    }
}

#[tokio::test]
async fn numeric_or_list_valued_issuer_and_audience_are_refused_not_coerced() {
    let (verifier, _) = setup().await;
    let cases = [
        ("iss", json!(42)),
        ("iss", json!([ISSUER])),
        ("iss", json!({ "value": ISSUER })),
        ("aud", json!(7)),
        ("aud", json!([AUDIENCE, 7])),
        ("aud", json!(null)),
        ("aud", json!(true)),
    ];
    for (claim, value) in cases {
        let mut claims = claims();
        claims[claim] = value.clone();
        let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
        assert!(
            matches!(verifier.verify(&token).await, Err(AuthError::Invalid(..))),
            "{claim}={value} must be refused"
        );
    }
}

#[tokio::test]
async fn an_audience_list_containing_ours_is_accepted() {
    let (verifier, _) = setup().await;
    let mut claims = claims();
    claims["aud"] = json!(["another-app", AUDIENCE]);
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims);
    assert_eq!(verifier.verify(&token).await.expect("ok").user_id, "user-1");
}

#[tokio::test]
async fn keys_published_for_encryption_do_not_verify_signatures() {
    crate::bootstrap::install_tls_provider();
    let mut enc = jwk(&rsa_1(), Algorithm::RS256, "enc");
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    let mut wrap = jwk(&rsa_1(), Algorithm::RS256, "wrap");
    wrap.common.key_operations = Some(vec![KeyOperations::WrapKey, KeyOperations::Encrypt]);
    let mut sig = jwk(&ec_1(), Algorithm::ES256, "sig");
    sig.common.public_key_use = Some(PublicKeyUse::Signature);
    sig.common.key_operations = Some(vec![KeyOperations::Verify]);
    let (base, _) = fake_sso(vec![enc, wrap, sig]).await;
    let verifier = JwksVerifier::new(settings(&base)).expect("verifier");
    for kid in ["enc", "wrap"] {
        let token = sign(Algorithm::RS256, kid, &rsa_1(), &claims());
        assert_eq!(
            rejection(&verifier, &token).await,
            "unknown signing key",
            "{kid}"
        );
    }
    let token = sign(Algorithm::ES256, "sig", &ec_1(), &claims());
    assert_eq!(verifier.verify(&token).await.expect("ok").user_id, "user-1");
}

#[tokio::test]
async fn without_a_kid_the_only_signing_key_is_used_and_encryption_keys_do_not_count() {
    crate::bootstrap::install_tls_provider();
    let mut enc = jwk(&rsa_2(), Algorithm::RS256, "enc");
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    let (base, _) = fake_sso(vec![enc, jwk(&rsa_1(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = JwksVerifier::new(settings(&base)).expect("verifier");
    let header = Header::new(Algorithm::RS256);
    let signed_by_enc_key = jsonwebtoken::encode(&header, &claims(), &rsa_2()).expect("sign");
    assert_eq!(
        rejection(&verifier, &signed_by_enc_key).await,
        "signature does not verify"
    );
    let signed = jsonwebtoken::encode(&header, &claims(), &rsa_1()).expect("sign");
    assert_eq!(
        verifier.verify(&signed).await.expect("ok").user_id,
        "user-1"
    );
}

#[tokio::test]
async fn an_https_only_verifier_refuses_plain_http_urls() {
    crate::bootstrap::install_tls_provider();
    let (base, state) = fake_sso(vec![jwk(&rsa_1(), Algorithm::RS256, "rsa-1")]).await;
    let strict = JwksSettings {
        https_only: true,
        ..settings(&base)
    };
    assert!(JwksVerifier::new(strict).is_err());
    // The client itself refuses http, so a discovered `jwks_uri` or a redirect to http is
    // refused too, before any request leaves.
    let strict = JwksSettings {
        https_only: true,
        sso_url: Some("https://sso.invalid".into()),
        ..settings(&base)
    };
    let verifier = JwksVerifier::new(strict).expect("https URLs are accepted");
    assert!(verifier.get(&format!("{base}/keys")).await.is_err());
    assert_eq!(hits(&state), 0);
    let relaxed = JwksVerifier::new(settings(&base)).expect("verifier");
    assert!(relaxed.get(&format!("{base}/keys")).await.is_ok());
    assert_eq!(hits(&state), 1);
}

#[tokio::test]
async fn republishing_a_key_for_encryption_forgets_the_tokens_it_signed() {
    let (verifier, state) = setup().await;
    let token = sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims());
    verifier.verify(&token).await.expect("verified");
    let mut enc = jwk(&rsa_1(), Algorithm::RS256, "rsa-1");
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    state.lock().expect("fake lock").keys = vec![enc];
    // An unknown kid makes the verifier refetch; rsa-1 is no longer a signing key.
    let unknown = sign(Algorithm::RS256, "rsa-9", &rsa_2(), &claims());
    assert_eq!(rejection(&verifier, &unknown).await, "unknown signing key");
    assert_eq!(rejection(&verifier, &token).await, "unknown signing key");
}
