//! The own sign-in in the composition root: token keys, the user and refresh token stores,
//! the OAuth providers, and the verifier of own tokens in the authenticator's chain.

use std::sync::Arc;

use crate::adapters::oauth::{GithubProvider, GithubSettings, GoogleProvider, GoogleSettings};
use crate::adapters::sql::Database;
use crate::adapters::sql::refresh_tokens::SqlRefreshTokenStore;
use crate::adapters::sql::users::SqlUserStore;
use crate::app::identity::tokens::{LocalVerifier, SessionCache, TokenIssuer, TokenKeys};
use crate::app::identity::{AuthEvents, IdentityService, IdentitySettings};
use crate::config::Config;
use crate::domain::identity::Provider;
use crate::domain::ports::{OAuthProvider, RefreshTokenStore, UserStore};
use crate::http::metrics::Metrics;

/// The own sign-in and the verifier of its tokens, when the service issues tokens.
pub(super) fn identity(
    config: &Config,
    db: &Database,
    metrics: &Metrics,
) -> anyhow::Result<Option<(Arc<IdentityService>, Arc<LocalVerifier>)>> {
    let settings = &config.identity;
    let Some(signing) = &settings.signing else {
        return Ok(None);
    };
    let keys = TokenKeys::new(signing)?;
    let users: Arc<dyn UserStore> = Arc::new(SqlUserStore::new(db.clone()));
    let tokens: Arc<dyn RefreshTokenStore> = Arc::new(SqlRefreshTokenStore::new(db.clone()));
    let mut providers: Vec<Arc<dyn OAuthProvider>> = Vec::new();
    for client in &settings.providers {
        let https_only = |var: &str| !config.plaintext_allowed(var);
        providers.push(match client.provider {
            Provider::Github => Arc::new(GithubProvider::new(GithubSettings {
                client_id: client.client_id.clone(),
                client_secret: client.client_secret.clone(),
                authorize_url: client.authorize_or_issuer.clone(),
                token_url: client.token_url.clone(),
                api_url: client.api_url.clone(),
                https_only: https_only("OAUTH_GITHUB_API_URL"),
            })?),
            Provider::Google => Arc::new(GoogleProvider::new(GoogleSettings {
                client_id: client.client_id.clone(),
                client_secret: client.client_secret.clone(),
                issuer: client.authorize_or_issuer.clone(),
                https_only: https_only("OAUTH_GOOGLE_ISSUER"),
            })?),
        });
    }
    let seen = SessionCache::default();
    let local = Arc::new(LocalVerifier::new(
        keys.clone(),
        &settings.issuer,
        tokens.clone(),
        seen.clone(),
    ));
    let service = IdentityService::new(
        TokenIssuer::new(keys, settings.issuer.clone(), settings.access_ttl),
        users,
        tokens,
        providers,
        IdentitySettings {
            refresh_ttl: settings.refresh_ttl,
            redirect_base_url: settings.redirect_base_url.clone(),
            allowed_redirects: settings.allowed_redirects.clone(),
            reuse_grace: settings.reuse_grace,
        },
        AuthEvents::new(Some(metrics.registry())),
        seen,
    );
    let names: Vec<&str> = settings
        .providers
        .iter()
        .map(|p| p.provider.as_str())
        .collect();
    tracing::info!(
        algorithm = ?signing.algorithm(),
        providers = %names.join(","),
        "own sign-in on: access tokens are issued and accepted"
    );
    Ok(Some((Arc::new(service), local)))
}
