//! Tutoring instruments: turns by mode and outcome, their duration, the model's time to first
//! token, tokens and call duration (OpenTelemetry GenAI semantic-convention names), open turn
//! streams and turn-lock conflicts.
//!
//! Every label value comes from a closed set: modes and outcomes are enums, and the model name is
//! the operator's configuration, bounded by [`model_label`]. Known series are created at zero, so
//! `rate()` and alerts see them before the first event.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    core::Collector,
};

use super::StudyService;
use crate::domain::tutor::StudyMode;

/// `gen_ai.operation.name` of a tutoring model call.
const OPERATION: &str = "chat";
/// Longest model label kept.
const MODEL_LABEL_MAX: usize = 64;

/// Token histogram buckets recommended by the GenAI semantic conventions.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];

/// Duration buckets recommended by the GenAI semantic conventions (seconds).
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Time-to-first-token buckets recommended by the GenAI semantic conventions (seconds).
const TTFT_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How a tutoring turn ended (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnOutcome {
    /// The answer was stored and the client was still listening.
    Completed,
    /// The answer was stored after the client had gone away.
    ClientGone,
    /// The model stream broke after text had reached the student, or shutdown stopped the
    /// turn; the partial answer is kept, marked interrupted.
    Interrupted,
    /// The model refused, could not be reached, or failed before any text.
    ModelError,
    /// The turn's deadline (`MODEL_TIMEOUT_SECS`) passed.
    Timeout,
    /// The answer could not be stored (store unavailable, thread deleted).
    NotSaved,
    /// An unexpected error before the model was called (store read failed).
    Failed,
}

impl TurnOutcome {
    /// Every outcome, in label order.
    pub const ALL: [Self; 7] = [
        Self::Completed,
        Self::ClientGone,
        Self::Interrupted,
        Self::ModelError,
        Self::Timeout,
        Self::NotSaved,
        Self::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::ClientGone => "client_gone",
            Self::Interrupted => "interrupted",
            Self::ModelError => "model_error",
            Self::Timeout => "timeout",
            Self::NotSaved => "not_saved",
            Self::Failed => "failed",
        }
    }
}

/// The `mode` label.
pub fn mode_label(mode: StudyMode) -> &'static str {
    match mode {
        StudyMode::Teach => "teach",
        StudyMode::Ask => "ask",
    }
}

/// A model name as a label value: at most 64 characters of `[A-Za-z0-9._:/-]` (others become
/// `_`), `unknown` when empty. Model names come from configuration, not from clients; the bound
/// keeps a typo'd or odd value from carrying arbitrary text into every series.
pub fn model_label(model: &str) -> String {
    let label: String = model
        .trim()
        .chars()
        .take(MODEL_LABEL_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if label.is_empty() {
        "unknown".to_string()
    } else {
        label
    }
}

/// The tutoring instruments (cheap to clone: every instrument is shared).
#[derive(Clone)]
pub struct TutoringMetrics {
    started: IntCounterVec,
    turns: IntCounterVec,
    duration: HistogramVec,
    ttft: HistogramVec,
    tokens: HistogramVec,
    operation: HistogramVec,
    streams_open: IntGauge,
    lock_conflicts: IntCounter,
    /// Model label of teach and ask turns.
    models: Arc<[String; 2]>,
}

impl TutoringMetrics {
    /// The instruments, registered on `registry` when given; `teach_model` and `ask_model` name
    /// the model of each mode (`offline` for the built-in tutor).
    ///
    /// # Panics
    /// Never in practice: the definitions are static.
    pub fn new(registry: Option<&Registry>, teach_model: &str, ask_model: &str) -> Self {
        let started = IntCounterVec::new(
            Opts::new(
                "tutoring_turns_started_total",
                "Tutoring turns started, by mode",
            ),
            &["mode"],
        )
        .expect("static counter definition is valid");
        let turns = IntCounterVec::new(
            Opts::new(
                "tutoring_turns_total",
                "Tutoring turns ended, by mode and outcome (completed, client_gone, interrupted, \
                 model_error, timeout, not_saved, failed)",
            ),
            &["mode", "outcome"],
        )
        .expect("static counter definition is valid");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tutoring_turn_duration_seconds",
                "Tutoring turn duration from start to stored answer, by mode and outcome",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["mode", "outcome"],
        )
        .expect("static histogram definition is valid");
        let model_labels = &["gen_ai_operation_name", "gen_ai_request_model"];
        let ttft = HistogramVec::new(
            HistogramOpts::new(
                "gen_ai_server_time_to_first_token_seconds",
                "Time from the model request to the first answer text",
            )
            .buckets(TTFT_BUCKETS.to_vec()),
            model_labels,
        )
        .expect("static histogram definition is valid");
        let tokens = HistogramVec::new(
            HistogramOpts::new(
                "gen_ai_client_token_usage",
                "Model tokens per turn, by token type (input, output) and model",
            )
            .buckets(TOKEN_BUCKETS.to_vec()),
            &[
                "gen_ai_operation_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ],
        )
        .expect("static histogram definition is valid");
        let operation = HistogramVec::new(
            HistogramOpts::new(
                "gen_ai_client_operation_duration_seconds",
                "Model call duration, request to end of stream; error_type is empty on success",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &[
                "gen_ai_operation_name",
                "gen_ai_request_model",
                "error_type",
            ],
        )
        .expect("static histogram definition is valid");
        let streams_open = IntGauge::new(
            "tutoring_streams_open",
            "Turn event streams (SSE) open to clients",
        )
        .expect("static gauge definition is valid");
        let lock_conflicts = IntCounter::new(
            "tutoring_turn_lock_conflicts_total",
            "Messages refused with 409 because a turn of the thread was running",
        )
        .expect("static counter definition is valid");
        let models = Arc::new([model_label(teach_model), model_label(ask_model)]);
        let this = Self {
            started,
            turns,
            duration,
            ttft,
            tokens,
            operation,
            streams_open,
            lock_conflicts,
            models,
        };
        this.zero_known_series();
        if let Some(registry) = registry {
            for collector in this.collectors() {
                if let Err(e) = registry.register(collector) {
                    tracing::warn!(error = %e, "a tutoring instrument was not registered");
                }
            }
        }
        this
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.started.clone()),
            Box::new(self.turns.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.ttft.clone()),
            Box::new(self.tokens.clone()),
            Box::new(self.operation.clone()),
            Box::new(self.streams_open.clone()),
            Box::new(self.lock_conflicts.clone()),
        ]
    }

    fn zero_known_series(&self) {
        for mode in [StudyMode::Teach, StudyMode::Ask] {
            let m = mode_label(mode);
            self.started.with_label_values(&[m]);
            for outcome in TurnOutcome::ALL {
                self.turns.with_label_values(&[m, outcome.as_str()]);
                self.duration.with_label_values(&[m, outcome.as_str()]);
            }
            let model = self.model(mode);
            self.ttft.with_label_values(&[OPERATION, model]);
            for kind in ["input", "output"] {
                self.tokens.with_label_values(&[OPERATION, model, kind]);
            }
            self.operation.with_label_values(&[OPERATION, model, ""]);
        }
    }

    fn model(&self, mode: StudyMode) -> &str {
        match mode {
            StudyMode::Teach => &self.models[0],
            StudyMode::Ask => &self.models[1],
        }
    }

    /// A turn started.
    pub fn turn_started(&self, mode: StudyMode) {
        self.started.with_label_values(&[mode_label(mode)]).inc();
    }

    /// A turn ended after `took`.
    pub fn turn_ended(&self, mode: StudyMode, outcome: TurnOutcome, took: Duration) {
        let labels = [mode_label(mode), outcome.as_str()];
        self.turns.with_label_values(&labels).inc();
        self.duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
    }

    /// The model's first answer text arrived `after` its request.
    pub fn first_token(&self, mode: StudyMode, after: Duration) {
        self.ttft
            .with_label_values(&[OPERATION, self.model(mode)])
            .observe(after.as_secs_f64());
    }

    /// The model reported (or was estimated to use) these tokens.
    #[allow(clippy::cast_precision_loss)] // token counts are far below 2^52
    pub fn tokens(&self, mode: StudyMode, input: u64, output: u64) {
        let model = self.model(mode);
        for (kind, n) in [("input", input), ("output", output)] {
            self.tokens
                .with_label_values(&[OPERATION, model, kind])
                .observe(n as f64);
        }
    }

    /// A model call ended after `took`; `error` is the closed-set failure kind, if any.
    pub fn model_call(&self, mode: StudyMode, took: Duration, error: Option<&'static str>) {
        self.operation
            .with_label_values(&[OPERATION, self.model(mode), error.unwrap_or("")])
            .observe(took.as_secs_f64());
    }

    /// A turn was refused because one was running on the thread.
    pub fn lock_conflict(&self) {
        self.lock_conflicts.inc();
    }

    /// Counts an open stream until the returned guard is dropped.
    pub fn stream_opened(&self) -> StreamGuard {
        self.streams_open.inc();
        StreamGuard(self.streams_open.clone())
    }
}

/// Keeps `tutoring_streams_open` counted while a turn's stream is held (dropped when the client
/// goes away or the stream ends).
pub struct StreamGuard(IntGauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl StudyService {
    /// Records tutoring metrics on `metrics` (by default on instruments no registry exposes).
    #[must_use]
    pub fn with_metrics(mut self, metrics: TutoringMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The tutoring instruments.
    pub fn metrics(&self) -> &TutoringMetrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_labels_are_bounded_in_length_and_charset() {
        assert_eq!(model_label("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(model_label("org/model:7b.q4_0"), "org/model:7b.q4_0");
        assert_eq!(model_label("  "), "unknown");
        assert_eq!(model_label("a b\"c\n{}"), "a_b_c___");
        let long = "x".repeat(500);
        assert_eq!(model_label(&long).chars().count(), MODEL_LABEL_MAX);
        assert_eq!(model_label("modèle"), "mod_le");
    }

    #[test]
    fn outcome_labels_are_a_closed_distinct_set() {
        let labels: std::collections::BTreeSet<_> =
            TurnOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(labels.len(), TurnOutcome::ALL.len());
        assert!(
            labels
                .iter()
                .all(|l| { l.chars().all(|c| c.is_ascii_lowercase() || c == '_') })
        );
    }

    #[test]
    fn known_series_exist_at_zero_and_turns_are_counted_by_mode_and_outcome() {
        let registry = Registry::new();
        let metrics = TutoringMetrics::new(Some(&registry), "teach model", "ask-model");
        metrics.turn_ended(StudyMode::Ask, TurnOutcome::Timeout, Duration::from_secs(1));
        let families = registry.gather();
        let turns = families
            .iter()
            .find(|f| f.name() == "tutoring_turns_total")
            .expect("registered");
        // 2 modes x 7 outcomes, all present before they happen.
        assert_eq!(turns.get_metric().len(), 14);
        let counted: Vec<_> = turns
            .get_metric()
            .iter()
            .filter(|m| m.get_counter().get_value() > 0.0)
            .flat_map(|m| m.get_label().iter().map(|l| l.value().to_string()))
            .collect();
        assert_eq!(counted, ["ask", "timeout"]);
        let tokens = families
            .iter()
            .find(|f| f.name() == "gen_ai_client_token_usage")
            .expect("registered");
        let models: std::collections::BTreeSet<_> = tokens
            .get_metric()
            .iter()
            .flat_map(|m| m.get_label().iter())
            .filter(|l| l.name() == "gen_ai_request_model")
            .map(|l| l.value().to_string())
            .collect();
        assert_eq!(
            models.into_iter().collect::<Vec<_>>(),
            ["ask-model", "teach_model"]
        );
    }

    #[test]
    fn an_open_stream_is_counted_until_dropped() {
        let metrics = TutoringMetrics::new(None, "m", "m");
        let one = metrics.stream_opened();
        let two = metrics.stream_opened();
        assert_eq!(metrics.streams_open.get(), 2);
        drop(one);
        drop(two);
        assert_eq!(metrics.streams_open.get(), 0);
    }
}
