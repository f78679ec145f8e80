//! A circuit breaker in front of any lesson source: after repeated failures, or at once when
//! the source refuses for its rate limit, nothing is asked of it until the cool-off (or the
//! source's own `Retry-After`) has passed; then one probe decides. While open, fetches fail
//! fast with [`LessonSourceError::Backoff`], so cached and stale lessons are still served and
//! uncached ones are refused at once instead of hammering a throttled upstream.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;

use crate::domain::circuit_breaker::{Admission, BreakerSettings, CallOutcome, CircuitBreaker};
use crate::domain::lesson::{LessonPath, RawLesson};
use crate::domain::ports::{Conditional, LessonSource, LessonSourceError};

/// A [`LessonSource`] guarded by a [`CircuitBreaker`] shared by every path.
pub struct BreakerSource {
    inner: Arc<dyn LessonSource>,
    breaker: Mutex<CircuitBreaker>,
}

impl BreakerSource {
    /// Guards `inner` with a closed breaker tuned by `settings`.
    pub fn new(inner: Arc<dyn LessonSource>, settings: BreakerSettings) -> Self {
        Self {
            inner,
            breaker: Mutex::new(CircuitBreaker::new(settings)),
        }
    }

    fn breaker(&self) -> MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reports an admitted call that never finished (its caller was cancelled), so a probe that
/// went away does not leave the breaker waiting for it forever.
struct InFlight<'a> {
    source: &'a BreakerSource,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.source
                .breaker()
                .record(Instant::now(), CallOutcome::Abandoned);
        }
    }
}

impl BreakerSource {
    /// Runs `call` if the breaker admits it, and records how it went.
    async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, LessonSourceError>>,
    ) -> Result<T, LessonSourceError> {
        let admission = self.breaker().admit(Instant::now());
        if let Admission::Rejected { retry_after } = admission {
            return Err(LessonSourceError::Backoff {
                retry_after: Some(retry_after),
                reason: "circuit open".to_string(),
            });
        }
        let mut in_flight = InFlight {
            source: self,
            finished: false,
        };
        let outcome = call.await;
        in_flight.finished = true;
        let reported = match &outcome {
            // "No such lesson" is an answer: the source works.
            Ok(_) | Err(LessonSourceError::NotFound) => CallOutcome::Success,
            Err(LessonSourceError::Unavailable(_)) => CallOutcome::Failure,
            Err(LessonSourceError::Backoff { retry_after, .. }) => CallOutcome::Throttled {
                retry_after: *retry_after,
            },
        };
        let opened_for = self.breaker().record(Instant::now(), reported);
        if let Some(open_for) = opened_for {
            tracing::warn!(
                open_secs = open_for.as_secs(),
                error = ?outcome.as_ref().err(),
                "lesson source circuit open: uncached lessons are refused until it is probed again"
            );
        } else if admission == Admission::Probe && reported == CallOutcome::Success {
            tracing::info!("lesson source answered the probe: circuit closed");
        }
        match outcome {
            // The caller learns how long the source is now left alone (the hint, capped).
            Err(LessonSourceError::Backoff { reason, .. }) => Err(LessonSourceError::Backoff {
                retry_after: opened_for,
                reason,
            }),
            other => other,
        }
    }
}

#[async_trait]
impl LessonSource for BreakerSource {
    async fn fetch(&self, path: &LessonPath) -> Result<RawLesson, LessonSourceError> {
        self.guarded(self.inner.fetch(path)).await
    }

    async fn fetch_if_changed(
        &self,
        path: &LessonPath,
        etag: Option<String>,
    ) -> Result<Conditional, LessonSourceError> {
        self.guarded(self.inner.fetch_if_changed(path, etag)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Fails with `error` every time, counting calls.
    struct Failing {
        calls: AtomicUsize,
        error: fn() -> LessonSourceError,
    }

    #[async_trait]
    impl LessonSource for Failing {
        async fn fetch(&self, _: &LessonPath) -> Result<RawLesson, LessonSourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err((self.error)())
        }
    }

    fn guarded(error: fn() -> LessonSourceError) -> (Arc<Failing>, BreakerSource) {
        let inner = Arc::new(Failing {
            calls: AtomicUsize::new(0),
            error,
        });
        let source = BreakerSource::new(
            inner.clone(),
            BreakerSettings {
                failure_threshold: 3,
                cool_off: Duration::from_secs(60),
                max_open: Duration::from_secs(3_600),
            },
        );
        (inner, source)
    }

    fn path() -> LessonPath {
        LessonPath::parse("a/b").unwrap()
    }

    #[tokio::test]
    async fn after_the_threshold_of_failures_the_source_is_not_called_at_all() {
        let (inner, source) = guarded(|| LessonSourceError::Unavailable("boom".into()));

        for _ in 0..10 {
            let _ = source.fetch(&path()).await;
        }

        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        assert!(matches!(
            source.fetch(&path()).await,
            Err(LessonSourceError::Backoff { retry_after: Some(d), .. }) if d <= Duration::from_secs(60)
        ));
    }

    #[tokio::test]
    async fn not_found_answers_never_open_the_circuit() {
        let (inner, source) = guarded(|| LessonSourceError::NotFound);

        for _ in 0..10 {
            let _ = source.fetch(&path()).await;
        }

        assert_eq!(inner.calls.load(Ordering::SeqCst), 10);
    }

    /// Fails until told to hang, then never answers.
    struct HangsWhenTold {
        calls: AtomicUsize,
        hang: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl LessonSource for HangsWhenTold {
        async fn fetch(&self, _: &LessonPath) -> Result<RawLesson, LessonSourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            Err(LessonSourceError::Unavailable("boom".into()))
        }
    }

    #[tokio::test]
    async fn a_cancelled_probe_does_not_keep_the_circuit_half_open_forever() {
        let inner = Arc::new(HangsWhenTold {
            calls: AtomicUsize::new(0),
            hang: std::sync::atomic::AtomicBool::new(false),
        });
        let source = BreakerSource::new(
            inner.clone(),
            BreakerSettings {
                failure_threshold: 1,
                cool_off: Duration::from_millis(10),
                max_open: Duration::from_secs(3_600),
            },
        );
        let _ = source.fetch(&path()).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        inner.hang.store(true, Ordering::SeqCst);

        // The probe's caller gives up while the source hangs.
        let probe = tokio::time::timeout(Duration::from_millis(30), source.fetch(&path())).await;
        assert!(probe.is_err());
        let next = tokio::time::timeout(Duration::from_millis(30), source.fetch(&path())).await;

        assert!(next.is_err(), "the next caller probes (and hangs) too");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn one_rate_limit_refusal_opens_the_circuit_for_the_hinted_time() {
        let (inner, source) = guarded(|| LessonSourceError::Backoff {
            retry_after: Some(Duration::from_secs(120)),
            reason: "GitHub answered 429".into(),
        });

        let first = source.fetch(&path()).await;
        let second = source.fetch(&path()).await;

        assert!(matches!(
            first,
            Err(LessonSourceError::Backoff { retry_after: Some(d), .. }) if d == Duration::from_secs(120)
        ));
        assert!(matches!(second, Err(LessonSourceError::Backoff { .. })));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn conditional_fetches_count_against_the_same_breaker_and_are_refused_while_open() {
        let (inner, source) = guarded(|| LessonSourceError::Unavailable("boom".into()));

        for _ in 0..2 {
            let _ = source.fetch(&path()).await;
        }
        let third = source
            .fetch_if_changed(&path(), Some("\"v1\"".into()))
            .await;
        let refused = source
            .fetch_if_changed(&path(), Some("\"v1\"".into()))
            .await;

        assert!(matches!(third, Err(LessonSourceError::Unavailable(_))));
        assert!(matches!(refused, Err(LessonSourceError::Backoff { .. })));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_conditional_fetch_reaches_the_source_with_its_validator() {
        let mut inner = crate::domain::ports::MockLessonSource::new();
        inner
            .expect_fetch_if_changed()
            .withf(|p, etag| p.as_str() == "a/b" && etag.as_deref() == Some("\"v1\""))
            .times(1)
            .returning(|_, _| Ok(Conditional::NotModified));
        let source = BreakerSource::new(Arc::new(inner), BreakerSettings::default());

        let outcome = source
            .fetch_if_changed(&path(), Some("\"v1\"".into()))
            .await;

        assert_eq!(outcome.unwrap(), Conditional::NotModified);
    }
}
