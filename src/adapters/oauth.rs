//! Outbound adapters: the [`OAuthProvider`](crate::domain::ports::OAuthProvider)s of the own
//! sign-in, GitHub (OAuth 2) and Google (OpenID Connect), on the `oauth2` crate driven through
//! our own `reqwest` client.
//!
//! Both use the authorization code flow with PKCE (S256) and a random `state`; Google adds a
//! `nonce` that its ID token must carry. A refusal of the provider (a bad, replayed or foreign
//! code, a wrong verifier, a forged or expired ID token) is
//! [`OAuthError::Refused`]; a provider that cannot be reached, times out, fails (5xx) or
//! answers garbage is [`OAuthError::Unavailable`]. No token, code, verifier or secret ever
//! appears in an error text or a log line.

mod github;
mod google;
mod http;
#[cfg(test)]
mod tests;

pub use github::{GithubProvider, GithubSettings};
pub use google::{GoogleProvider, GoogleSettings};

use oauth2::basic::BasicErrorResponse;
use oauth2::{PkceCodeVerifier, RedirectUrl, RequestTokenError};

use crate::domain::ports::OAuthError;
use http::HttpError;

/// Longest authorization code accepted from a callback.
const MAX_CODE_LEN: usize = 1024;

/// Longest e-mail address kept.
const MAX_EMAIL_LEN: usize = 320;

/// Longest display name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Longest subject kept.
const MAX_SUBJECT_LEN: usize = 255;

/// `text` without control characters and surrounding white space, cut to `max_chars`
/// characters; `None` when nothing is left.
fn bounded(text: &str, max_chars: usize) -> Option<String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(max_chars)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// An e-mail address as kept: no control characters or white space, one `@`, at most
/// [`MAX_EMAIL_LEN`] bytes; anything else is dropped rather than cut.
fn bounded_email(email: &str) -> Option<String> {
    let email = email.trim();
    let plausible = !email.is_empty()
        && email.len() <= MAX_EMAIL_LEN
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    plausible.then(|| email.to_string())
}

/// A subject as kept: 1 to [`MAX_SUBJECT_LEN`] visible ASCII characters.
fn bounded_subject(subject: &str) -> Option<String> {
    let plausible = !subject.is_empty()
        && subject.len() <= MAX_SUBJECT_LEN
        && subject.bytes().all(|b| b.is_ascii_graphic());
    plausible.then(|| subject.to_string())
}

/// The callback's `code` and the PKCE verifier, checked before anything is sent: a code is
/// 1 to [`MAX_CODE_LEN`] visible ASCII characters, a verifier 43 to 128 characters of the
/// RFC 7636 alphabet.
fn checked_grant(code: &str, verifier: &str) -> Result<PkceCodeVerifier, OAuthError> {
    let code_ok = !code.is_empty()
        && code.len() <= MAX_CODE_LEN
        && code.bytes().all(|b| b.is_ascii_graphic());
    if !code_ok {
        return Err(OAuthError::Refused("malformed authorization code".into()));
    }
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !verifier_ok {
        return Err(OAuthError::Refused("malformed PKCE verifier".into()));
    }
    Ok(PkceCodeVerifier::new(verifier.to_string()))
}

/// `redirect_uri` as `oauth2` takes it; an unparsable one is refused.
fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, OAuthError> {
    RedirectUrl::new(redirect_uri.to_string())
        .map_err(|_| OAuthError::Refused("invalid redirect URI".into()))
}

/// What a failed token exchange means: a 4xx or an OAuth error answer (GitHub sends those
/// with status 200) is a refusal; anything else an outage.
fn exchange_error(error: RequestTokenError<HttpError, BasicErrorResponse>) -> OAuthError {
    let refused = || OAuthError::Refused("the provider refused the authorization code".into());
    match error {
        RequestTokenError::ServerResponse(_) => refused(),
        RequestTokenError::Request(error) if error.is_refusal() => refused(),
        RequestTokenError::Request(error) => unavailable("token exchange", &error),
        RequestTokenError::Parse(_, body) => {
            let oauth_error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .is_some_and(|answer| answer.get("error").is_some_and(|e| e.is_string()));
            if oauth_error {
                refused()
            } else {
                unavailable("token exchange", &HttpError::Malformed)
            }
        }
        RequestTokenError::Other(_) => unavailable("token exchange", &HttpError::Malformed),
    }
}

/// An outage of `step`, logged (the error text is secret-free) and reported.
fn unavailable(step: &str, error: &HttpError) -> OAuthError {
    tracing::warn!(step, error = %error, "OAuth provider call failed");
    OAuthError::Unavailable(format!("{step}: {error}"))
}

/// A failed API call after the exchange: a 4xx is a refusal, anything else an outage.
fn api_error(step: &str, error: &HttpError) -> OAuthError {
    if error.is_refusal() {
        OAuthError::Refused(format!("{step} refused"))
    } else {
        unavailable(step, error)
    }
}
