//! `auth_attempts_total{kind, outcome}`: every authentication at the door of a protected route,
//! by the kind of credential presented and how it ended. Both labels come from closed enums:
//! nothing a client sends becomes a label value.

use prometheus::{IntCounterVec, Opts, Registry};

/// What a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `X-API-Key` or a bearer `sk_…` key.
    ApiKey,
    /// A bearer JWT (the SSO's or the service's own).
    Jwt,
    /// Any other bearer token (checked at the SSO).
    Opaque,
    /// `X-Admin-Secret`.
    AdminSecret,
    /// Nothing: the development principal or a refusal.
    None,
    /// Credential headers that cannot be read (both headers, wrong scheme, not text).
    Malformed,
}

/// How an authentication ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Admitted.
    Ok,
    /// No credential where one is needed (401).
    Missing,
    /// A credential not accepted (401).
    Invalid,
    /// Authenticated but not allowed here (403).
    Forbidden,
    /// The identity provider or key store could not decide (503).
    Unavailable,
    /// The client address spent its budget of refused attempts (429).
    Throttled,
    /// A malformed development identity (400).
    BadRequest,
}

impl AuthKind {
    const ALL: [Self; 6] = [
        Self::ApiKey,
        Self::Jwt,
        Self::Opaque,
        Self::AdminSecret,
        Self::None,
        Self::Malformed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
            Self::AdminSecret => "admin_secret",
            Self::None => "none",
            Self::Malformed => "malformed",
        }
    }
}

impl AuthOutcome {
    const ALL: [Self; 7] = [
        Self::Ok,
        Self::Missing,
        Self::Invalid,
        Self::Forbidden,
        Self::Unavailable,
        Self::Throttled,
        Self::BadRequest,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "unavailable",
            Self::Throttled => "throttled",
            Self::BadRequest => "bad_request",
        }
    }
}

/// The authentication outcome counter.
#[derive(Clone)]
pub struct AuthMetrics {
    attempts: IntCounterVec,
}

impl AuthMetrics {
    /// The counter, registered on `registry` when given; every kind × outcome starts at zero.
    ///
    /// # Panics
    /// Never in practice: the definition is static.
    pub fn new(registry: Option<&Registry>) -> Self {
        let attempts = IntCounterVec::new(
            Opts::new(
                "auth_attempts_total",
                "Authentications of protected routes by credential kind and outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("static counter definition is valid");
        for kind in AuthKind::ALL {
            for outcome in AuthOutcome::ALL {
                attempts.with_label_values(&[kind.as_str(), outcome.as_str()]);
            }
        }
        if let Some(registry) = registry
            && let Err(e) = registry.register(Box::new(attempts.clone()))
        {
            tracing::warn!(error = %e, "auth_attempts_total not registered");
        }
        Self { attempts }
    }

    /// Counts one authentication.
    pub fn record(&self, kind: AuthKind, outcome: AuthOutcome) {
        self.attempts
            .with_label_values(&[kind.as_str(), outcome.as_str()])
            .inc();
    }

    /// How many were counted (tests).
    pub fn count(&self, kind: AuthKind, outcome: AuthOutcome) -> u64 {
        self.attempts
            .with_label_values(&[kind.as_str(), outcome.as_str()])
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_outcome_is_a_series_from_the_start() {
        let registry = Registry::new();
        let metrics = AuthMetrics::new(Some(&registry));
        metrics.record(AuthKind::Jwt, AuthOutcome::Invalid);
        let family = registry
            .gather()
            .into_iter()
            .find(|f| f.name() == "auth_attempts_total")
            .expect("registered");
        assert_eq!(family.get_metric().len(), 6 * 7);
        assert_eq!(metrics.count(AuthKind::Jwt, AuthOutcome::Invalid), 1);
        assert_eq!(metrics.count(AuthKind::ApiKey, AuthOutcome::Ok), 0);
    }
}
