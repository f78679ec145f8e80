//! GitHub (or GitHub Enterprise) sign-in: OAuth 2 with PKCE, then who signed in from the REST
//! API (`/user` and `/user/emails`).

use std::borrow::Cow;

use anyhow::{Context, bail};
use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::ProviderHttp;
use super::{
    MAX_NAME_CHARS, api_error, bounded, bounded_email, checked_grant, exchange_error, redirect_url,
};
use crate::domain::identity::{Provider, ProviderProfile};
use crate::domain::ports::{AuthorizationStart, OAuthError, OAuthProvider};

/// Media type of GitHub's REST API.
const GITHUB_JSON: &str = "application/vnd.github+json";

/// Most e-mail entries looked at.
const MAX_EMAILS: usize = 100;

/// Longest GitHub account id, in digits.
const MAX_ID_DIGITS: usize = 64;

/// Where GitHub is and who this service is to it.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// OAuth app client id.
    pub client_id: String,
    /// OAuth app client secret.
    pub client_secret: SecretString,
    /// `https://github.com/login/oauth/authorize`.
    pub authorize_url: String,
    /// `https://github.com/login/oauth/access_token`.
    pub token_url: String,
    /// `https://api.github.com` (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: String,
    /// Refuse plain http URLs.
    pub https_only: bool,
}

/// The `oauth2` client with its authorization and token endpoints set.
type GithubClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Sign-in with GitHub.
pub struct GithubProvider {
    client: GithubClient,
    http: ProviderHttp,
    api_url: String,
}

impl std::fmt::Debug for GithubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubProvider")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// `GET /user`.
#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GithubProvider {
    /// The provider for `settings`.
    ///
    /// # Errors
    /// When a URL does not parse or is not http(s), is plain http while `https_only`, or the
    /// HTTP client cannot be built.
    pub fn new(settings: GithubSettings) -> anyhow::Result<Self> {
        let http = ProviderHttp::new(settings.https_only)?;
        for url in [
            &settings.authorize_url,
            &settings.token_url,
            &settings.api_url,
        ] {
            if !http.allows(url) {
                bail!("GitHub URL {url} is not an allowed http(s) URL");
            }
        }
        let client = BasicClient::new(ClientId::new(settings.client_id))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose_secret().to_string(),
            ))
            .set_auth_uri(AuthUrl::new(settings.authorize_url).context("GitHub authorize URL")?)
            .set_token_uri(TokenUrl::new(settings.token_url).context("GitHub token URL")?);
        Ok(Self {
            client,
            http,
            api_url: settings.api_url.trim_end_matches('/').to_string(),
        })
    }

    /// Who the access token belongs to.
    async fn profile(&self, token: &str) -> Result<ProviderProfile, OAuthError> {
        let user: GithubUser = self
            .http
            .get_json(&format!("{}/user", self.api_url), Some(token), GITHUB_JSON)
            .await
            .map_err(|e| api_error("GitHub user", &e))?;
        let emails: Vec<GithubEmail> = self
            .http
            .get_json(
                &format!("{}/user/emails", self.api_url),
                Some(token),
                GITHUB_JSON,
            )
            .await
            .map_err(|e| api_error("GitHub e-mails", &e))?;
        let subject = user.id.to_string();
        if subject.len() > MAX_ID_DIGITS {
            return Err(OAuthError::Refused("implausible GitHub account id".into()));
        }
        let (email, email_verified) = primary_email(&emails);
        let name = user
            .name
            .as_deref()
            .and_then(|name| bounded(name, MAX_NAME_CHARS))
            .or_else(|| {
                user.login
                    .as_deref()
                    .and_then(|login| bounded(login, MAX_NAME_CHARS))
            });
        Ok(ProviderProfile {
            provider: Provider::Github,
            subject,
            email,
            email_verified,
            name,
        })
    }
}

/// The primary verified address (verified), else the primary one (unverified), else none.
fn primary_email(emails: &[GithubEmail]) -> (Option<String>, bool) {
    let emails = &emails[..emails.len().min(MAX_EMAILS)];
    if let Some(email) = emails
        .iter()
        .filter(|e| e.primary && e.verified)
        .find_map(|e| bounded_email(&e.email))
    {
        return (Some(email), true);
    }
    let primary = emails
        .iter()
        .filter(|e| e.primary)
        .find_map(|e| bounded_email(&e.email));
    (primary, false)
}

#[async_trait]
impl OAuthProvider for GithubProvider {
    fn provider(&self) -> Provider {
        Provider::Github
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, OAuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .url();
        Ok(AuthorizationStart {
            url: url.into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: None,
        })
    }

    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        _nonce: Option<&str>,
        redirect_uri: &str,
    ) -> Result<ProviderProfile, OAuthError> {
        let verifier = checked_grant(code, pkce_verifier)?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        self.profile(token.access_token().secret()).await
    }
}
