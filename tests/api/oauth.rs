//! The OAuth provider adapters against the fake GitHub and Google on loopback: the
//! authorization URL, the code exchange with PKCE, the profile, and every refusal.

use std::collections::HashMap;

use secrecy::SecretString;
use study_mode_api::adapters::oauth::{
    GithubProvider, GithubSettings, GoogleProvider, GoogleSettings,
};
use study_mode_api::domain::identity::{Provider, ProviderProfile};
use study_mode_api::domain::ports::{AuthorizationStart, OAuthError, OAuthProvider};

use crate::fake_oauth::{FakeGithub, FakeGoogle, IdTokenTamper, follow_authorize};

const CALLBACK: &str = "https://app.test/auth/callback";

fn vars(env: Vec<(String, String)>) -> HashMap<String, String> {
    env.into_iter().collect()
}

fn github_settings(fake: &FakeGithub, https_only: bool) -> GithubSettings {
    let env = vars(fake.env());
    GithubSettings {
        client_id: env["OAUTH_GITHUB_CLIENT_ID"].clone(),
        client_secret: SecretString::from(env["OAUTH_GITHUB_CLIENT_SECRET"].clone()),
        authorize_url: env["OAUTH_GITHUB_AUTHORIZE_URL"].clone(),
        token_url: env["OAUTH_GITHUB_TOKEN_URL"].clone(),
        api_url: env["OAUTH_GITHUB_API_URL"].clone(),
        https_only,
    }
}

fn google_settings(fake: &FakeGoogle, https_only: bool) -> GoogleSettings {
    let env = vars(fake.env());
    GoogleSettings {
        client_id: env["OAUTH_GOOGLE_CLIENT_ID"].clone(),
        client_secret: SecretString::from(env["OAUTH_GOOGLE_CLIENT_SECRET"].clone()),
        issuer: env["OAUTH_GOOGLE_ISSUER"].clone(),
        https_only,
    }
}

fn github(fake: &FakeGithub) -> GithubProvider {
    GithubProvider::new(github_settings(fake, false)).expect("github provider")
}

fn google(fake: &FakeGoogle) -> GoogleProvider {
    GoogleProvider::new(google_settings(fake, false)).expect("google provider")
}

/// The query parameters of `url`.
fn params(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("authorization URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// A whole sign-in: start, approve at the fake, finish with what came back.
async fn sign_in(provider: &dyn OAuthProvider) -> Result<ProviderProfile, OAuthError> {
    let start = provider.start(CALLBACK).await.expect("start");
    let (code, state) = follow_authorize(&start.url).await;
    assert_eq!(state, start.state);
    finish(provider, &start, &code).await
}

async fn finish(
    provider: &dyn OAuthProvider,
    start: &AuthorizationStart,
    code: &str,
) -> Result<ProviderProfile, OAuthError> {
    provider
        .finish(code, &start.pkce_verifier, start.nonce.as_deref(), CALLBACK)
        .await
}

/// A wrong verifier, then a code used twice: both refused.
async fn refuses_wrong_verifier_and_replay(provider: &dyn OAuthProvider) {
    let start = provider.start(CALLBACK).await.expect("start");
    let other = provider.start(CALLBACK).await.expect("start");
    let (code, _) = follow_authorize(&start.url).await;
    let wrong = provider
        .finish(
            &code,
            &other.pkce_verifier,
            start.nonce.as_deref(),
            CALLBACK,
        )
        .await;
    assert!(matches!(wrong, Err(OAuthError::Refused(_))), "{wrong:?}");

    let (code, _) = follow_authorize(&start.url).await;
    finish(provider, &start, &code).await.expect("first use");
    let replay = finish(provider, &start, &code).await;
    assert!(matches!(replay, Err(OAuthError::Refused(_))), "{replay:?}");
}

#[tokio::test]
async fn github_sign_in_gives_the_profile() {
    let fake = FakeGithub::start().await;
    let provider = github(&fake);
    let start = provider.start(CALLBACK).await.expect("start");
    assert!(
        start
            .url
            .starts_with(&format!("{}/login/oauth/authorize?", fake.base))
    );
    let query = params(&start.url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], start.state);
    assert_eq!(query["redirect_uri"], CALLBACK);
    assert_eq!(query["scope"], "read:user user:email");
    assert_eq!(start.nonce, None);

    let (code, state) = follow_authorize(&start.url).await;
    assert_eq!(state, start.state);
    let profile = finish(&provider, &start, &code).await.expect("profile");
    assert_eq!(
        profile,
        ProviderProfile {
            provider: Provider::Github,
            subject: "583231".into(),
            email: Some("octocat@example.com".into()),
            email_verified: true,
            name: Some("The Octocat".into()),
        }
    );
}

#[tokio::test]
async fn github_refuses_a_wrong_verifier_and_a_replayed_code() {
    let fake = FakeGithub::start().await;
    refuses_wrong_verifier_and_replay(&github(&fake)).await;
}

#[tokio::test]
async fn github_without_a_verified_primary_address_gives_an_unverified_one() {
    let fake = FakeGithub::start().await;
    fake.set_user(
        77,
        "ada\u{7}",
        None,
        vec![
            ("other@example.com", false, true),
            ("ada@example.com", true, false),
        ],
    );
    let profile = sign_in(&github(&fake)).await.expect("profile");
    assert_eq!(profile.subject, "77");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert!(!profile.email_verified);
    assert_eq!(
        profile.name.as_deref(),
        Some("ada"),
        "login, control character removed"
    );

    fake.set_user(
        78,
        "nomail",
        Some("No Mail"),
        vec![("x@example.com", false, true)],
    );
    let profile = sign_in(&github(&fake)).await.expect("profile");
    assert_eq!((profile.email, profile.email_verified), (None, false));
}

#[tokio::test]
async fn github_down_is_unavailable() {
    let fake = FakeGithub::start().await;
    let provider = github(&fake);
    let start = provider.start(CALLBACK).await.expect("start");
    let (code, _) = follow_authorize(&start.url).await;
    fake.set_down(true);
    let down = finish(&provider, &start, &code).await;
    assert!(matches!(down, Err(OAuthError::Unavailable(_))), "{down:?}");
}

#[tokio::test]
async fn google_sign_in_gives_the_profile() {
    let fake = FakeGoogle::start().await;
    let provider = google(&fake);
    let start = provider.start(CALLBACK).await.expect("start");
    assert!(
        start
            .url
            .starts_with(&format!("{}/o/oauth2/v2/auth?", fake.base))
    );
    let query = params(&start.url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], start.state);
    assert_eq!(query["scope"], "openid email profile");
    let nonce = start.nonce.clone().expect("nonce");
    assert_eq!(query["nonce"], nonce);
    assert_ne!(nonce, start.state);

    let (code, _) = follow_authorize(&start.url).await;
    let profile = finish(&provider, &start, &code).await.expect("profile");
    assert_eq!(
        profile,
        ProviderProfile {
            provider: Provider::Google,
            subject: "110169484474386276334".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
        }
    );

    fake.set_user("42", Some("bob@example.com"), false, None);
    let profile = sign_in(&provider).await.expect("profile");
    assert_eq!(profile.subject, "42");
    assert!(!profile.email_verified);
    assert_eq!(profile.name, None);
}

#[tokio::test]
async fn google_refuses_a_wrong_verifier_and_a_replayed_code() {
    let fake = FakeGoogle::start().await;
    refuses_wrong_verifier_and_replay(&google(&fake)).await;
}

#[tokio::test]
async fn google_refuses_spoiled_id_tokens() {
    let fake = FakeGoogle::start().await;
    let provider = google(&fake);
    for tamper in [
        IdTokenTamper::WrongNonce,
        IdTokenTamper::WrongAudience,
        IdTokenTamper::Expired,
        IdTokenTamper::UnknownKid,
    ] {
        fake.set_id_token_tamper(tamper);
        let refused = sign_in(&provider).await;
        assert!(
            matches!(refused, Err(OAuthError::Refused(_))),
            "{tamper:?}: {refused:?}"
        );
    }
    fake.set_id_token_tamper(IdTokenTamper::None);
    sign_in(&provider).await.expect("a valid token still works");

    let start = provider.start(CALLBACK).await.expect("start");
    let (code, _) = follow_authorize(&start.url).await;
    let no_nonce = provider
        .finish(&code, &start.pkce_verifier, None, CALLBACK)
        .await;
    assert!(
        matches!(no_nonce, Err(OAuthError::Refused(_))),
        "{no_nonce:?}"
    );
}

#[tokio::test]
async fn google_down_is_unavailable() {
    let fake = FakeGoogle::start().await;
    fake.set_down(true);
    let provider = google(&fake);
    let down = provider.start(CALLBACK).await;
    assert!(matches!(down, Err(OAuthError::Unavailable(_))), "{down:?}");

    fake.set_down(false);
    let start = provider.start(CALLBACK).await.expect("start once up");
    let (code, _) = follow_authorize(&start.url).await;
    fake.set_down(true);
    let down = finish(&provider, &start, &code).await;
    assert!(matches!(down, Err(OAuthError::Unavailable(_))), "{down:?}");
}

#[tokio::test]
async fn https_only_refuses_plain_http_urls() {
    let github_fake = FakeGithub::start().await;
    assert!(GithubProvider::new(github_settings(&github_fake, true)).is_err());
    let google_fake = FakeGoogle::start().await;
    assert!(GoogleProvider::new(google_settings(&google_fake, true)).is_err());
}
