//! OpenTelemetry traces (issue 18): the standard `OTEL_*` variables. The OpenTelemetry SDK reads
//! them itself when the service starts (`telemetry::otel`); they are parsed here too so that a
//! misspelt value fails `check-config` and the start, and `check-config` shows them.

/// What the `OTEL_*` variables say about trace export.
#[derive(Debug, Clone, Default)]
pub struct TracesConfig {
    /// Base URL of the OTLP/HTTP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`; `/v1/traces` is
    /// appended); unset with no traces endpoint means no export.
    pub endpoint: Option<String>,
    /// Full URL for traces only (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), used as is.
    pub traces_endpoint: Option<String>,
    /// `http/protobuf` (default) or `http/json` (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub protocol: Option<String>,
    /// Whether `OTEL_EXPORTER_OTLP_HEADERS` is set (its values are credentials: never shown).
    pub headers_set: bool,
    /// `service.name` of the spans (`OTEL_SERVICE_NAME`; default `study-mode-api`).
    pub service_name: Option<String>,
    /// Sampler (`OTEL_TRACES_SAMPLER`; default `parentbased_always_on`).
    pub sampler: Option<String>,
    /// Sampler argument (`OTEL_TRACES_SAMPLER_ARG`, the ratio of the ratio samplers).
    pub sampler_arg: Option<String>,
}

impl TracesConfig {
    /// Whether spans are exported.
    pub fn enabled(&self) -> bool {
        self.endpoint.is_some() || self.traces_endpoint.is_some()
    }

    /// The settings as `NAME=value` pairs (`check-config`).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.into());
        vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                or(&self.endpoint, "(unset: no trace export)"),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                or(&self.traces_endpoint, "(unset)"),
            ),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                or(&self.protocol, "http/protobuf"),
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                if self.headers_set { "***" } else { "(unset)" }.into(),
            ),
            (
                "OTEL_SERVICE_NAME",
                or(&self.service_name, "study-mode-api"),
            ),
            (
                "OTEL_TRACES_SAMPLER",
                or(&self.sampler, "parentbased_always_on"),
            ),
            ("OTEL_TRACES_SAMPLER_ARG", or(&self.sampler_arg, "(unset)")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn traces_are_off_by_default_and_shown_with_their_defaults() {
        let config = cfg(&[]).unwrap();
        assert!(!config.traces.enabled());
        let shown = config.to_string();
        assert!(shown.contains("OTEL_EXPORTER_OTLP_ENDPOINT=(unset: no trace export)"));
        assert!(shown.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"));
        assert!(shown.contains("OTEL_SERVICE_NAME=study-mode-api"));
    }

    #[test]
    fn an_endpoint_turns_traces_on_and_headers_are_never_shown() {
        let config = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20s3cret",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap();
        assert!(config.traces.enabled());
        let shown = config.to_string();
        assert!(shown.contains("OTEL_EXPORTER_OTLP_HEADERS=***"), "{shown}");
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn grpc_unknown_samplers_bad_ratios_and_non_http_endpoints_are_refused() {
        let err = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
    }
}
