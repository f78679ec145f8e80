//! The request span's OpenTelemetry side: its parent from the W3C `traceparent` header, and
//! its name, route template and status once the answer is known.

use std::collections::HashMap;
use std::sync::OnceLock;

use poem::Response;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `operationId` → path template (`/v1/threads/{thread_id}`), from the OpenAPI document.
fn templates() -> &'static HashMap<String, String> {
    static TEMPLATES: OnceLock<HashMap<String, String>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::http::spec_json()).unwrap_or_default();
        let mut map = HashMap::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (path, methods) in paths {
                for op in methods.as_object().into_iter().flat_map(|m| m.values()) {
                    if let Some(id) = op["operationId"].as_str() {
                        map.insert(id.to_string(), path.clone());
                    }
                }
            }
        }
        map
    })
}

/// The route template of the operation that answered, never the raw path (which holds ids and
/// any text a client invents); `None` for paths no operation serves.
pub fn route_template(resp: &Response) -> Option<&'static str> {
    let op = resp.data::<poem_openapi::OperationId>()?;
    templates().get(op.0).map(String::as_str)
}

/// Makes the incoming `traceparent` (when valid) the parent of `span`.
pub fn adopt_parent(span: &tracing::Span, headers: &poem::http::HeaderMap) {
    let parent = crate::telemetry::otel::extract(headers);
    if opentelemetry::trace::TraceContextExt::span(&parent)
        .span_context()
        .is_valid()
    {
        let _ = span.set_parent(parent);
    }
}

/// Names the finished request's span `METHOD /route/{template}` and records its status.
pub fn finish(span: &tracing::Span, method: &str, resp: &Response) {
    let status = resp.status().as_u16();
    if let Some(route) = route_template(resp) {
        span.record("http.route", route);
        // A started span keeps its `otel.name`; the name is set on the OpenTelemetry span.
        let cx = span.context();
        opentelemetry::trace::TraceContextExt::span(&cx).update_name(format!("{method} {route}"));
    }
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
}

#[cfg(test)]
mod tests {
    use super::templates;

    #[test]
    fn operations_map_to_their_path_templates() {
        let map = templates();
        assert_eq!(
            map.get("getThread").map(String::as_str),
            Some("/v1/threads/{thread_id}")
        );
        assert_eq!(map.get("chatkit").map(String::as_str), Some("/chatkit"));
    }
}
