//! Sign-ins that must fail: forged or missing state, a code of another sign-in (the PKCE
//! verifier does not match it), a replayed code, an open redirect, an unknown provider, a
//! cancelled consent, a provider that is down.

use reqwest::header::LOCATION;
use serde_json::Value;

use super::{Auth, set_cookie};
use crate::fake_oauth::follow_authorize;

async fn error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("JSON error");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn a_callback_whose_state_does_not_match_the_cookie_is_refused() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (location, cookie) = auth.begin("github").await;
    let (code, _) = follow_authorize(&location).await;
    // Act
    let forged = auth
        .callback("github", &code, "forged-state", Some(&cookie))
        .await;
    // Assert
    assert_eq!(error(forged).await, (400, "signin_not_started".into()));
}

#[tokio::test]
async fn a_callback_without_the_sign_in_cookie_is_refused() {
    // Arrange: an attacker's link with a code and state, opened in a browser that never
    // started a sign-in (login CSRF)
    let auth = Auth::start(&[]).await;
    let (location, _) = auth.begin("github").await;
    let (code, state) = follow_authorize(&location).await;
    // Act
    let resp = auth.callback("github", &code, &state, None).await;
    // Assert
    assert_eq!(error(resp).await, (400, "signin_not_started".into()));
    let tampered = auth
        .callback("github", &code, &state, Some("e30.AAAA"))
        .await;
    assert_eq!(error(tampered).await, (400, "signin_not_started".into()));
}

#[tokio::test]
async fn a_code_issued_to_another_sign_in_fails_its_pkce_check() {
    // Arrange: the victim's sign-in A, and a code the attacker got for sign-in B
    let auth = Auth::start(&[]).await;
    let (victim_location, victim_cookie) = auth.begin("github").await;
    let (_, victim_state) = follow_authorize(&victim_location).await;
    let (attacker_location, _) = auth.begin("github").await;
    let (attacker_code, _) = follow_authorize(&attacker_location).await;
    // Act: injected into the victim's callback (state and cookie are the victim's)
    let resp = auth
        .callback(
            "github",
            &attacker_code,
            &victim_state,
            Some(&victim_cookie),
        )
        .await;
    // Assert: the verifier in the victim's cookie does not match the code's challenge
    assert_eq!(error(resp).await, (401, "signin_refused".into()));
}

#[tokio::test]
async fn a_replayed_callback_is_refused_by_the_provider() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (location, cookie) = auth.begin("github").await;
    let (code, state) = follow_authorize(&location).await;
    let first = auth.callback("github", &code, &state, Some(&cookie)).await;
    assert_eq!(first.status(), 302);
    // Act
    let replay = auth.callback("github", &code, &state, Some(&cookie)).await;
    // Assert
    assert_eq!(error(replay).await, (401, "signin_refused".into()));
}

#[tokio::test]
async fn open_redirects_are_refused_before_anything_is_sent_to_the_provider() {
    // Arrange
    let auth = Auth::start(&[]).await;
    for target in [
        "https://evil.example/",
        "//evil.example/",
        "http://localhost:3000@evil.example/",
        "http://localhost:3000.evil.example/",
        "javascript:alert(1)",
        "/relative/path",
    ] {
        // Act
        let resp = auth.login("github", Some(target)).await;
        // Assert
        assert!(resp.headers().get(LOCATION).is_none(), "{target}");
        assert!(set_cookie(&resp, "sm_signin").is_none(), "{target}");
        assert_eq!(
            error(resp).await,
            (400, "redirect_not_allowed".into()),
            "{target}"
        );
    }
    let allowed = auth
        .login("github", Some("http://localhost:3000/deep/link"))
        .await;
    assert_eq!(allowed.status(), 302);
    let location = allowed.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with(&auth.github.base), "{location}");
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "response_type=code",
    ] {
        assert!(location.contains(part), "{part} in {location}");
    }
}

#[tokio::test]
async fn unknown_or_disabled_providers_are_404() {
    // Arrange
    let auth = Auth::start(&[("OAUTH2_PROVIDERS", "github")]).await;
    // Act / Assert
    assert_eq!(error(auth.login("google", None).await).await.0, 404);
    assert_eq!(error(auth.login("gitlab", None).await).await.0, 404);
    let (_, providers) = auth.app.get_json("/auth/providers").await;
    assert_eq!(providers["providers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_consent_cancelled_at_the_provider_is_a_refused_sign_in() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (location, cookie) = auth.begin("github").await;
    let (_, state) = follow_authorize(&location).await;
    // Act
    let resp = auth
        .http
        .get(super::with_query(
            &auth.app.url("/auth/github/callback"),
            &[("error", "access_denied"), ("state", state.as_str())],
        ))
        .header(reqwest::header::COOKIE, format!("sm_signin={cookie}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(error(resp).await, (401, "signin_refused".into()));
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_503_not_a_refusal() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (location, cookie) = auth.begin("github").await;
    let (code, state) = follow_authorize(&location).await;
    auth.github.set_down(true);
    // Act
    let resp = auth.callback("github", &code, &state, Some(&cookie)).await;
    // Assert
    assert_eq!(error(resp).await, (503, "auth_unavailable".into()));
}

#[tokio::test]
async fn a_forged_google_id_token_is_refused() {
    use crate::fake_oauth::IdTokenTamper;
    // Arrange
    let auth = Auth::start(&[]).await;
    for tamper in [
        IdTokenTamper::WrongNonce,
        IdTokenTamper::WrongAudience,
        IdTokenTamper::Expired,
        IdTokenTamper::UnknownKid,
    ] {
        auth.google.set_id_token_tamper(tamper);
        let (location, cookie) = auth.begin("google").await;
        let (code, state) = follow_authorize(&location).await;
        // Act
        let resp = auth.callback("google", &code, &state, Some(&cookie)).await;
        // Assert
        assert_eq!(
            error(resp).await,
            (401, "signin_refused".into()),
            "{tamper:?}"
        );
    }
}

#[tokio::test]
async fn failed_sign_ins_from_one_address_are_throttled() {
    // Arrange: a budget of 3 refusals per minute
    let auth = Auth::start(&[("PREAUTH_RATE_LIMIT", "3/minute")]).await;
    for _ in 0..3 {
        let resp = auth.login("github", Some("https://evil.example/")).await;
        assert_eq!(resp.status(), 400);
    }
    // Act
    let resp = auth.login("github", None).await;
    // Assert: turned away before any work, even for a good request
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn pages_asking_for_a_session_without_one_do_not_spend_the_budget() {
    // Arrange: a small budget, and a school's worth of pages with no session yet
    let auth = Auth::start(&[("PREAUTH_RATE_LIMIT", "3/minute")]).await;
    for _ in 0..6 {
        let resp = auth
            .http
            .post(auth.app.url("/auth/refresh"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // Act
    let resp = auth.login("github", None).await;
    // Assert: signing in still works from that address
    assert_eq!(resp.status(), 302);
}
