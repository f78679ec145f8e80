//! The tutoring instruments of the service.

use crate::app::study::TutoringMetrics;
use crate::config::Config;
use crate::http::metrics::Metrics;

/// The tutoring instruments, labelled with the configured models (`offline` without a key).
pub(super) fn metrics(config: &Config, metrics: &Metrics) -> TutoringMetrics {
    let t = &config.tutor;
    let (teach, ask) = match t.openai_api_key {
        Some(_) => (t.model_teach.as_str(), t.model_ask.as_str()),
        None => ("offline", "offline"),
    };
    TutoringMetrics::new(Some(metrics.registry()), teach, ask)
}
