//! Security events of the own sign-in: logged under the `security` target and counted in
//! `auth_events_total{event, outcome}` (both labels from fixed sets).

use prometheus::{IntCounterVec, Opts, Registry};

use super::SignInError;
use super::sessions::SessionError;

/// The security event log and counter.
#[derive(Clone)]
pub struct AuthEvents {
    counter: IntCounterVec,
}

impl AuthEvents {
    /// Registers the counter on `registry` (an unregistered one when `None`, for tests).
    ///
    /// # Panics
    /// Never in practice: the definition is static and registered once per registry.
    pub fn new(registry: Option<&Registry>) -> Self {
        let counter = IntCounterVec::new(
            Opts::new(
                "auth_events_total",
                "Own sign-in security events by event (sign_in, refresh, reuse, logout, erase) \
                 and outcome (ok or the failure reason)",
            ),
            &["event", "outcome"],
        )
        .expect("static counter definition is valid");
        if let Some(registry) = registry
            && let Err(err) = registry.register(Box::new(counter.clone()))
        {
            tracing::warn!(error = %err, "auth_events_total not registered");
        }
        Self { counter }
    }

    fn count(&self, event: &str, outcome: &str) {
        self.counter.with_label_values(&[event, outcome]).inc();
    }

    /// How many `event`s with `outcome` were counted (tests, diagnostics).
    pub fn total(&self, event: &str, outcome: &str) -> u64 {
        self.counter.with_label_values(&[event, outcome]).get()
    }

    pub(super) fn signed_in(&self, provider: &str, user_id: &str) {
        tracing::info!(target: "security", event = "sign_in", outcome = "ok", provider, user_id,
            "signed in");
        self.count("sign_in", "ok");
    }

    pub(super) fn sign_in_failed(&self, provider: &str, err: &SignInError) {
        let provider: String = provider
            .chars()
            .take(16)
            .filter(char::is_ascii_alphanumeric)
            .collect();
        tracing::warn!(target: "security", event = "sign_in", outcome = err.reason(),
            provider = %provider, reason = %err, "sign-in refused");
        self.count("sign_in", err.reason());
    }

    pub(super) fn refreshed(&self, user_id: &str) {
        tracing::info!(target: "security", event = "refresh", outcome = "ok", user_id,
            "access token refreshed");
        self.count("refresh", "ok");
    }

    pub(super) fn refresh_failed(&self, err: &SessionError) {
        if matches!(err, SessionError::Reused | SessionError::Superseded) {
            // A reuse is counted (and logged louder) by `reuse_detected` as well.
            tracing::info!(target: "security", event = "refresh", outcome = err.reason(),
                "refresh refused: token already rotated");
            self.count("refresh", err.reason());
            return;
        }
        tracing::warn!(target: "security", event = "refresh", outcome = err.reason(),
            reason = %err, "refresh refused");
        self.count("refresh", err.reason());
    }

    pub(super) fn reuse_detected(&self, user_id: &str, revoked: u64) {
        tracing::error!(target: "security", event = "reuse", outcome = "family_revoked", user_id,
            revoked, "a rotated refresh token was presented again: the session was revoked");
        self.count("reuse", "family_revoked");
    }

    pub(super) fn logged_out(&self, user_id: &str) {
        tracing::info!(target: "security", event = "logout", outcome = "ok", user_id,
            "signed out");
        self.count("logout", "ok");
    }

    pub(super) fn erased(&self, user_id: &str) {
        tracing::info!(target: "security", event = "erase", outcome = "ok", user_id,
            "account and sessions deleted");
        self.count("erase", "ok");
    }
}
