//! The spans of a turn's run: the model call's, and the attribute values of the turn's.

use tracing::field::Empty;

use crate::domain::tutor::StudyMode;

/// The span of the model call, from its request to its stream's end, with the OpenTelemetry
/// GenAI attribute names; the adapter fills in the provider and the model.
pub(super) fn model_call() -> tracing::Span {
    tracing::info_span!(
        "gen_ai.chat",
        otel.name = "chat",
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = Empty,
        gen_ai.request.model = Empty,
        gen_ai.response.time_to_first_token = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
    )
}

/// The mode as a span attribute.
pub(super) fn mode_name(mode: StudyMode) -> &'static str {
    match mode {
        StudyMode::Teach => "teach",
        StudyMode::Ask => "ask",
    }
}
