//! `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `…_PROTOCOL`, `…_HEADERS`, `OTEL_SERVICE_NAME`,
//! `OTEL_TRACES_SAMPLER(_ARG)`: checked here, read again by the OpenTelemetry SDK.

use super::super::RawEnv;
use super::super::traces::TracesConfig;
use super::Collector;

/// Samplers the SDK implements.
const SAMPLERS: &[&str] = &[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];

fn set(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn url(c: &mut Collector, var: &str, value: Option<String>) -> Option<String> {
    let value = value?;
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(value),
        _ => {
            c.push(var, "must be an http:// or https:// URL");
            None
        }
    }
}

pub(super) fn traces(c: &mut Collector, raw: &RawEnv) -> TracesConfig {
    let endpoint = url(
        c,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        set(&raw.otel_exporter_otlp_endpoint),
    );
    let traces_endpoint = url(
        c,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        set(&raw.otel_exporter_otlp_traces_endpoint),
    );
    let mut protocol = None;
    for (var, value) in [
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            &raw.otel_exporter_otlp_protocol,
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            &raw.otel_exporter_otlp_traces_protocol,
        ),
    ] {
        match set(value).as_deref() {
            None => {}
            Some(p @ ("http/protobuf" | "http/json")) => protocol = Some(p.to_string()),
            Some(_) => c.push(
                var,
                "must be http/protobuf or http/json (no gRPC exporter is built in)",
            ),
        }
    }
    let sampler = set(&raw.otel_traces_sampler);
    if let Some(s) = &sampler
        && !SAMPLERS.contains(&s.as_str())
    {
        c.push(
            "OTEL_TRACES_SAMPLER",
            format!("must be one of {}", SAMPLERS.join(", ")),
        );
    }
    let sampler_arg = set(&raw.otel_traces_sampler_arg);
    if let Some(arg) = &sampler_arg
        && !arg.parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r))
    {
        c.push("OTEL_TRACES_SAMPLER_ARG", "must be a ratio from 0 to 1");
    }
    TracesConfig {
        endpoint,
        traces_endpoint,
        protocol,
        headers_set: set(&raw.otel_exporter_otlp_headers).is_some(),
        service_name: set(&raw.otel_service_name),
        sampler,
        sampler_arg,
    }
}
