//! Why a request was refused at the door, as a response and as a security event.

use poem::http::{HeaderValue, StatusCode};
use poem::{IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use crate::app::auth::AuthReason;
use crate::domain::ports::{AuthError, InvalidReason};
use crate::http::error::ApiError;
use crate::http::middleware::RequestId;

/// Realm named in every `WWW-Authenticate` challenge.
const REALM: &str = "study-mode-api";

/// A refused request.
#[derive(Debug)]
pub enum Refusal {
    /// No credential (401, challenge without an error code, as RFC 6750 asks).
    Missing,
    /// A credential that is not accepted (401 `invalid_token`).
    Invalid {
        /// Why, for the metrics.
        why: InvalidReason,
        /// Plain-words reason, safe to show.
        reason: String,
        /// Fingerprint of the credential, for the log.
        fingerprint: Option<String>,
    },
    /// Authenticated but not allowed here (403).
    Forbidden {
        /// Why, for the metrics ([`AuthReason::InsufficientScope`] or
        /// [`AuthReason::WrongSecret`]).
        why: AuthReason,
        /// What is missing.
        reason: String,
        /// Fingerprint of the credential, for the log.
        fingerprint: Option<String>,
    },
    /// The identity provider or key store cannot decide now (503 `auth_unavailable`).
    Unavailable {
        /// Fingerprint of the credential, for the log.
        fingerprint: Option<String>,
    },
    /// A malformed development identity (400).
    BadRequest(ApiError),
}

/// First 12 hex digits of the credential's SHA-256: enough to correlate, useless to replay.
pub fn fingerprint(credential: &str) -> String {
    let digest = Sha256::digest(credential.as_bytes());
    hex::encode(&digest[..6])
}

impl Refusal {
    /// The refusal as an `auth_attempts_total` reason (which implies the outcome).
    pub fn reason(&self) -> AuthReason {
        match self {
            Refusal::Missing => AuthReason::Missing,
            Refusal::Invalid { why, .. } => AuthReason::Invalid(*why),
            Refusal::Forbidden { why, .. } => *why,
            Refusal::Unavailable { .. } => AuthReason::Unavailable,
            Refusal::BadRequest(_) => AuthReason::MalformedIdentity,
        }
    }

    /// 401 for a request without credentials.
    pub fn missing() -> Self {
        Refusal::Missing
    }

    /// 401: not accepted because of `why`, in the words of `reason`.
    pub fn invalid(why: InvalidReason, reason: &str, credential: Option<&str>) -> Self {
        Refusal::Invalid {
            why,
            reason: reason.to_string(),
            fingerprint: credential.map(fingerprint),
        }
    }

    /// 403: the key lacks the scope `reason` names.
    pub fn insufficient_scope(reason: &str, credential: Option<&str>) -> Self {
        Refusal::Forbidden {
            why: AuthReason::InsufficientScope,
            reason: reason.to_string(),
            fingerprint: credential.map(fingerprint),
        }
    }

    /// 403: a wrong `X-Admin-Secret`.
    pub fn wrong_secret(secret: &str) -> Self {
        Refusal::Forbidden {
            why: AuthReason::WrongSecret,
            reason: "wrong X-Admin-Secret".to_string(),
            fingerprint: Some(fingerprint(secret)),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &str, message: &str) -> Self {
        Refusal::BadRequest(ApiError::bad_request(code, message))
    }

    /// The refusal for a failed authentication of `credential`.
    pub fn from_auth(err: AuthError, credential: &str) -> Self {
        match err {
            AuthError::Missing => Refusal::Missing,
            AuthError::Invalid(why, reason) => Refusal::invalid(why, &reason, Some(credential)),
            AuthError::Unavailable => Refusal::Unavailable {
                fingerprint: Some(fingerprint(credential)),
            },
        }
    }

    fn parts(&self) -> (&'static str, &str, Option<&str>) {
        match self {
            Refusal::Missing => ("missing_credentials", "no credentials", None),
            Refusal::Invalid {
                reason,
                fingerprint,
                ..
            } => ("invalid_credentials", reason, fingerprint.as_deref()),
            Refusal::Forbidden {
                reason,
                fingerprint,
                ..
            } => ("insufficient_scope", reason, fingerprint.as_deref()),
            Refusal::Unavailable { fingerprint } => (
                "auth_unavailable",
                "identity provider unavailable",
                fingerprint.as_deref(),
            ),
            Refusal::BadRequest(_) => {
                ("malformed_identity", "malformed development identity", None)
            }
        }
    }

    /// Logs the refusal as a security event (never the credential itself); the client is the
    /// peer, or the forwarded address when the peer is a trusted proxy.
    pub fn log(&self, req: &Request, trusted_proxies: &[std::net::IpAddr]) {
        let (event, reason, fingerprint) = self.parts();
        let client = crate::http::client::client_ip(req, trusted_proxies)
            .map_or_else(|| req.remote_addr().to_string(), |ip| ip.to_string());
        let request_id = req.data::<RequestId>().map_or("-", |id| id.0.as_str());
        tracing::warn!(
            target: "security",
            event,
            reason,
            token_fingerprint = fingerprint.unwrap_or("-"),
            client,
            request_id,
            method = crate::http::metrics::method_label(req.method()),
            path = crate::http::middleware::log_path(req.uri().path()),
            "request refused: {reason}"
        );
    }
}

fn challenge(error: Option<&str>) -> HeaderValue {
    let value = match error {
        None => format!("Bearer realm=\"{REALM}\""),
        Some(description) => {
            // Quoted-string: no quotes, backslashes or control characters inside.
            let clean: String = description
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect();
            format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{clean}\""
            )
        }
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, header) = match self {
            Refusal::Missing => (
                ApiError::unauthorized(
                    "authentication required: send Authorization: Bearer <token> or X-API-Key",
                ),
                Some(challenge(None)),
            ),
            Refusal::Invalid { reason, .. } => {
                let header = challenge(Some(&reason));
                (ApiError::invalid_token(reason), Some(header))
            }
            Refusal::Forbidden { reason, .. } => (ApiError::forbidden(reason), None),
            Refusal::Unavailable { .. } => (
                ApiError::unavailable(
                    "auth_unavailable",
                    "the identity provider cannot be reached to check this token; retry shortly",
                ),
                None,
            ),
            Refusal::BadRequest(error) => (error, None),
        };
        let mut response = error.into_response();
        if let Some(header) = header {
            response.headers_mut().insert("www-authenticate", header);
        }
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("5"));
        }
        response
    }
}
