//! Readiness: is every dependency this replica needs answering right now?

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::ports::Pingable;

/// How long one dependency may take to answer before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A dependency readiness checks.
#[derive(Clone)]
pub struct Dependency {
    /// Stable name shown in the report (`database`, `redis`).
    pub name: &'static str,
    /// Required dependencies make the replica unready when down; optional ones degrade it.
    pub required: bool,
    /// The check itself.
    pub probe: Arc<dyn Pingable>,
}

/// State of one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Dependency name.
    pub name: &'static str,
    /// Whether it answered in time.
    pub up: bool,
    /// Whether it is required.
    pub required: bool,
    /// Time the check took, in milliseconds.
    pub latency_ms: u64,
    /// Secret-free reason when down.
    pub error: Option<String>,
}

/// Overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything is up.
    Ok,
    /// Only optional dependencies are down: keep serving.
    Degraded,
    /// A required dependency is down: take this replica out of rotation.
    Unavailable,
}

/// Result of a readiness run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Verdict over all checks.
    pub verdict: Verdict,
    /// One entry per dependency, in registration order.
    pub checks: Vec<Check>,
}

/// Runs every dependency check concurrently, each bounded by [`CHECK_TIMEOUT`].
#[derive(Clone, Default)]
pub struct Readiness {
    deps: Vec<Dependency>,
    timeout: Option<Duration>,
}

impl Readiness {
    /// A readiness service over `deps`.
    pub fn new(deps: Vec<Dependency>) -> Self {
        Self {
            deps,
            timeout: None,
        }
    }

    /// Overrides the per-check timeout (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks every dependency now.
    pub async fn check(&self) -> Report {
        let timeout = self.timeout.unwrap_or(CHECK_TIMEOUT);
        let runs = self.deps.iter().map(|dep| async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(timeout, dep.probe.ping()).await;
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(reason),
                Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
            };
            if let Some(reason) = &error {
                tracing::warn!(dependency = dep.name, reason = %reason, "dependency is down");
            }
            Check {
                name: dep.name,
                up: error.is_none(),
                required: dep.required,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                error,
            }
        });
        let checks = futures::future::join_all(runs).await;
        let verdict = if checks.iter().any(|c| !c.up && c.required) {
            Verdict::Unavailable
        } else if checks.iter().any(|c| !c.up) {
            Verdict::Degraded
        } else {
            Verdict::Ok
        };
        Report { verdict, checks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::MockPingable;

    fn dep(name: &'static str, required: bool, up: bool) -> Dependency {
        let mut probe = MockPingable::new();
        probe
            .expect_ping()
            .returning(move || if up { Ok(()) } else { Err("refused".into()) });
        Dependency {
            name,
            required,
            probe: Arc::new(probe),
        }
    }

    #[tokio::test]
    async fn verdict_is_unavailable_only_when_a_required_dependency_is_down() {
        let cases = [
            (true, true, Verdict::Ok),
            (true, false, Verdict::Degraded),
            (false, true, Verdict::Unavailable),
            (false, false, Verdict::Unavailable),
        ];
        for (db_up, redis_up, expected) in cases {
            // Arrange
            let readiness = Readiness::new(vec![
                dep("database", true, db_up),
                dep("redis", false, redis_up),
            ]);
            // Act
            let report = readiness.check().await;
            // Assert
            assert_eq!(
                report.verdict, expected,
                "db_up={db_up} redis_up={redis_up}"
            );
            assert_eq!(report.checks.len(), 2);
        }
    }

    #[tokio::test]
    async fn a_silent_dependency_counts_as_down_after_the_timeout() {
        struct Hang;
        #[async_trait::async_trait]
        impl Pingable for Hang {
            async fn ping(&self) -> Result<(), String> {
                futures::future::pending().await
            }
        }
        let readiness = Readiness::new(vec![Dependency {
            name: "database",
            required: true,
            probe: Arc::new(Hang),
        }])
        .with_timeout(Duration::from_millis(20));
        let report = readiness.check().await;
        assert_eq!(report.verdict, Verdict::Unavailable);
        assert!(
            report.checks[0]
                .error
                .as_deref()
                .unwrap()
                .contains("no answer")
        );
    }
}
