//! Counters of the lesson cache: hits per tier, misses, stale copies served, misses refused for
//! a user's fetch budget, upstream fetches with their latency (a fetch refused by the circuit
//! breaker is `backoff`, a conditional one that found nothing new `not_modified`), and waits
//! on another replica's fetch.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::domain::lesson::RawLesson;
use crate::domain::ports::{Conditional, LessonSourceError};

/// The `result` values of `lesson_cache_lookups_total`.
const LOOKUP_RESULTS: [&str; 5] = ["l1", "l2", "miss", "stale", "over_budget"];

/// Lesson-cache instruments.
#[derive(Clone)]
pub struct LessonMetrics {
    lookups: IntCounterVec,
    fetches: HistogramVec,
    lock_waits: IntCounterVec,
}

impl LessonMetrics {
    /// Registers the instruments on `registry` (unregistered ones for tests when `None`).
    ///
    /// # Panics
    /// Never in practice: the definitions are static and registered once per registry.
    pub fn new(registry: Option<&Registry>) -> Self {
        let lookups = IntCounterVec::new(
            Opts::new(
                "lesson_cache_lookups_total",
                "Lesson lookups by result: l1, l2, miss, stale, over_budget",
            ),
            &["result"],
        )
        .expect("static counter definition is valid");
        // The closed set starts at zero: the dashboard's hit rate reads l1 and l2 before the
        // first hit of each.
        for result in LOOKUP_RESULTS {
            lookups.with_label_values(&[result]);
        }
        let fetches = HistogramVec::new(
            HistogramOpts::new(
                "lesson_upstream_fetch_seconds",
                "Upstream lesson fetches by outcome",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["outcome"],
        )
        .expect("static histogram definition is valid");
        let lock_waits = IntCounterVec::new(
            Opts::new(
                "lesson_fetch_lock_waits_total",
                "Misses that waited for another replica's fetch",
            ),
            &["tier"],
        )
        .expect("static counter definition is valid");
        if let Some(registry) = registry {
            for c in [
                Box::new(lookups.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(fetches.clone()),
                Box::new(lock_waits.clone()),
            ] {
                if let Err(e) = registry.register(c) {
                    tracing::warn!(error = %e, "lesson metrics not registered");
                }
            }
        }
        Self {
            lookups,
            fetches,
            lock_waits,
        }
    }

    pub(super) fn hit(&self, result: &str) {
        self.lookups.with_label_values(&[result]).inc();
    }

    pub(super) fn budget_exhausted(&self) {
        self.lookups.with_label_values(&["over_budget"]).inc();
    }

    pub(super) fn lock_wait(&self) {
        self.lock_waits.with_label_values(&["l2"]).inc();
    }

    pub(super) fn fetched(&self, outcome: &Result<RawLesson, LessonSourceError>, took: Duration) {
        self.observe_fetch(outcome.as_ref().map(|_| "ok"), took);
    }

    /// A conditional fetch: `not_modified` when the source had nothing new (no download).
    pub(super) fn revalidated(
        &self,
        outcome: &Result<Conditional, LessonSourceError>,
        took: Duration,
    ) {
        let label = outcome.as_ref().map(|answer| match answer {
            Conditional::Modified { .. } => "ok",
            Conditional::NotModified => "not_modified",
        });
        self.observe_fetch(label, took);
    }

    fn observe_fetch(&self, outcome: Result<&'static str, &LessonSourceError>, took: Duration) {
        let label = match outcome {
            Ok(label) => label,
            Err(LessonSourceError::NotFound) => "not_found",
            Err(LessonSourceError::Unavailable(_)) => "unavailable",
            Err(LessonSourceError::Backoff { .. }) => "backoff",
        };
        self.fetches
            .with_label_values(&[label])
            .observe(took.as_secs_f64());
        tracing::debug!(
            outcome = label,
            ms = took.as_millis() as u64,
            "upstream lesson fetch"
        );
    }
}
