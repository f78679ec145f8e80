//! `auth_attempts_total{kind, outcome, reason}`: every authentication at the door of a
//! protected route, by the kind of credential presented, how it ended and why. Every label
//! comes from a closed enum: nothing a client sends becomes a label value.

use prometheus::{IntCounterVec, Opts, Registry};

use crate::domain::ports::InvalidReason;

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

/// Why an authentication ended as it did (the `reason` label); each reason belongs to one
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthReason {
    /// Admitted: no refusal reason.
    Accepted,
    /// No credential where one is needed.
    Missing,
    /// A credential not accepted, and why.
    Invalid(InvalidReason),
    /// An API key without the scope the route needs.
    InsufficientScope,
    /// A wrong `X-Admin-Secret`.
    WrongSecret,
    /// The identity provider or key store could not decide.
    Unavailable,
    /// The client address spent its budget of refused attempts.
    Throttled,
    /// A malformed development identity.
    MalformedIdentity,
}

impl AuthReason {
    /// Every reason, in label order.
    pub fn all() -> impl Iterator<Item = Self> {
        [Self::Accepted, Self::Missing]
            .into_iter()
            .chain(InvalidReason::ALL.map(Self::Invalid))
            .chain([
                Self::InsufficientScope,
                Self::WrongSecret,
                Self::Unavailable,
                Self::Throttled,
                Self::MalformedIdentity,
            ])
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "none",
            Self::Missing => "missing",
            Self::Invalid(reason) => reason.as_str(),
            Self::InsufficientScope => "insufficient_scope",
            Self::WrongSecret => "wrong_secret",
            Self::Unavailable => "unavailable",
            Self::Throttled => "throttled",
            Self::MalformedIdentity => "malformed_identity",
        }
    }

    /// The outcome this reason ends in.
    pub fn outcome(self) -> AuthOutcome {
        match self {
            Self::Accepted => AuthOutcome::Ok,
            Self::Missing => AuthOutcome::Missing,
            Self::Invalid(_) => AuthOutcome::Invalid,
            Self::InsufficientScope | Self::WrongSecret => AuthOutcome::Forbidden,
            Self::Unavailable => AuthOutcome::Unavailable,
            Self::Throttled => AuthOutcome::Throttled,
            Self::MalformedIdentity => AuthOutcome::BadRequest,
        }
    }
}

/// The authentication outcome counter.
#[derive(Clone)]
pub struct AuthMetrics {
    attempts: IntCounterVec,
}

impl AuthMetrics {
    /// The counter, registered on `registry` when given; every kind × reason (with its
    /// outcome) starts at zero.
    ///
    /// # Panics
    /// Never in practice: the definition is static.
    pub fn new(registry: Option<&Registry>) -> Self {
        let attempts = IntCounterVec::new(
            Opts::new(
                "auth_attempts_total",
                "Authentications of protected routes by credential kind, outcome and reason",
            ),
            &["kind", "outcome", "reason"],
        )
        .expect("static counter definition is valid");
        for kind in AuthKind::ALL {
            for reason in AuthReason::all() {
                attempts.with_label_values(&Self::labels(kind, reason));
            }
        }
        if let Some(registry) = registry
            && let Err(e) = registry.register(Box::new(attempts.clone()))
        {
            tracing::warn!(error = %e, "auth_attempts_total not registered");
        }
        Self { attempts }
    }

    fn labels(kind: AuthKind, reason: AuthReason) -> [&'static str; 3] {
        [kind.as_str(), reason.outcome().as_str(), reason.as_str()]
    }

    /// Counts one authentication.
    pub fn record(&self, kind: AuthKind, reason: AuthReason) {
        self.attempts
            .with_label_values(&Self::labels(kind, reason))
            .inc();
    }

    /// How many were counted (tests).
    pub fn count(&self, kind: AuthKind, reason: AuthReason) -> u64 {
        self.attempts
            .with_label_values(&Self::labels(kind, reason))
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_reason_is_a_series_from_the_start_under_its_one_outcome() {
        let registry = Registry::new();
        let metrics = AuthMetrics::new(Some(&registry));
        let expired = AuthReason::Invalid(InvalidReason::Expired);
        metrics.record(AuthKind::Jwt, expired);
        let family = registry
            .gather()
            .into_iter()
            .find(|f| f.name() == "auth_attempts_total")
            .expect("registered");
        let reasons = AuthReason::all().count();
        assert_eq!(reasons, 7 + InvalidReason::ALL.len());
        assert_eq!(family.get_metric().len(), 6 * reasons);
        assert_eq!(metrics.count(AuthKind::Jwt, expired), 1);
        assert_eq!(metrics.count(AuthKind::ApiKey, AuthReason::Accepted), 0);
        let counted: Vec<_> = family
            .get_metric()
            .iter()
            .filter(|m| m.get_counter().get_value() > 0.0)
            .flat_map(|m| m.get_label().iter().map(|l| l.value().to_string()))
            .collect();
        assert_eq!(counted, ["jwt", "invalid", "expired"]);
    }

    #[test]
    fn reason_labels_are_distinct() {
        let labels: std::collections::BTreeSet<_> =
            AuthReason::all().map(AuthReason::as_str).collect();
        assert_eq!(labels.len(), AuthReason::all().count());
    }
}
