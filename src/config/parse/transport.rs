//! Production refuses plaintext upstreams: every URL the service sends tokens, prompts or
//! requests for lessons to must be https, unless `ALLOW_INSECURE_UPSTREAMS` names its variable.

use super::Collector;
use crate::config::identity::IdentityConfig;
use crate::config::jobs::JobsConfig;
use crate::config::{AuthConfig, LessonsConfig, RawEnv, TutorConfig};
use crate::domain::identity::Provider;

/// The upstream URL variables; `ALLOW_INSECURE_UPSTREAMS` may name only these.
pub(super) const UPSTREAMS: &[&str] = &[
    "JWKS_URL",
    "SSO_URL",
    "USERINFO_URL",
    "OPENAI_BASE_URL",
    "GITHUB_RAW_BASE_URL",
    "GITHUB_API_BASE_URL",
    "OAUTH_GITHUB_AUTHORIZE_URL",
    "OAUTH_GITHUB_TOKEN_URL",
    "OAUTH_GITHUB_API_URL",
    "OAUTH_GOOGLE_ISSUER",
];

/// `ALLOW_INSECURE_UPSTREAMS`, and (in production) a problem for every `http://` upstream it
/// does not name. Loopback addresses get no exemption: a sidecar on 127.0.0.1 is a deliberate
/// choice the operator states, not something inferred from the address.
pub(super) fn insecure_upstreams(
    c: &mut Collector,
    raw: &RawEnv,
    prod: bool,
    (lessons, tutor, jobs): (&LessonsConfig, &TutorConfig, &JobsConfig),
    auth: &AuthConfig,
    identity: &IdentityConfig,
) -> Vec<String> {
    let allowed = c.names(
        "ALLOW_INSECURE_UPSTREAMS",
        &raw.allow_insecure_upstreams,
        UPSTREAMS,
    );
    if !prod {
        return allowed;
    }
    // USERINFO_URL derived from SSO_URL is the SSO's own URL: SSO_URL's choice covers it.
    let userinfo = raw.userinfo_url.as_ref().and(auth.userinfo_url.as_ref());
    let mut provider_urls: Vec<(&str, Option<&String>)> = Vec::new();
    for client in &identity.providers {
        match client.provider {
            Provider::Github => provider_urls.extend([
                (
                    "OAUTH_GITHUB_AUTHORIZE_URL",
                    Some(&client.authorize_or_issuer),
                ),
                ("OAUTH_GITHUB_TOKEN_URL", Some(&client.token_url)),
                ("OAUTH_GITHUB_API_URL", Some(&client.api_url)),
            ]),
            Provider::Google => {
                provider_urls.push(("OAUTH_GOOGLE_ISSUER", Some(&client.authorize_or_issuer)));
            }
        }
    }
    let urls = [
        ("JWKS_URL", auth.jwks_url.as_ref()),
        ("SSO_URL", auth.sso_url.as_ref()),
        ("USERINFO_URL", userinfo),
        ("OPENAI_BASE_URL", Some(&tutor.openai_base_url)),
        ("GITHUB_RAW_BASE_URL", Some(&lessons.github_raw_base_url)),
        ("GITHUB_API_BASE_URL", Some(&jobs.github_api_base_url)),
    ];
    for (var, url) in urls.into_iter().chain(provider_urls) {
        let Some(url) = url else { continue };
        let plaintext = url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
        if plaintext && !allowed.iter().any(|a| a == var) {
            c.push(
                var,
                format!(
                    "{url:?} is plain http, refused when APP_ENV=production (tokens, prompts and \
                     answers would cross the network readable and alterable); use https, or \
                     ALLOW_INSECURE_UPSTREAMS={var} to accept that"
                ),
            );
        }
    }
    allowed
}
