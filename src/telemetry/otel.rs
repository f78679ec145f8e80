//! OpenTelemetry traces: spans of `tracing` exported over OTLP/HTTP, W3C `traceparent`
//! propagation, and trace ids in JSON log lines.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. The
//! SDK reads the other standard variables itself: `OTEL_SERVICE_NAME` (default here:
//! `study-mode-api`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`,
//! `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, `…_PROTOCOL` (`http/protobuf` by default or
//! `http/json`; gRPC is not built in), `…_TIMEOUT`, and the batch processor's `OTEL_BSP_*`.

use std::fmt;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt as _, Targets, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// Service name when `OTEL_SERVICE_NAME` is not set.
const SERVICE_NAME: &str = "study-mode-api";
/// Longest answer body of the collector that is read (it is only ever a small status message).
const MAX_COLLECTOR_ANSWER: usize = 64 * 1024;
/// Longest one export request may take when `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` is unset.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Ceiling of a configured export timeout.
const MAX_EXPORT_TIMEOUT: Duration = Duration::from_secs(60);
/// Name of the request span of health probes and metric scrapes, which is not exported.
const PROBE_SPAN: &str = "http.probe";
/// How long shutdown waits for the last spans to leave.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The layer that turns `tracing` spans into OpenTelemetry spans.
pub type SpanLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The trace export of the process: nothing when no OTLP endpoint is configured.
#[derive(Debug, Default)]
pub struct Traces {
    provider: Option<SdkTracerProvider>,
    problem: Option<String>,
}

/// Whether the standard variables ask for an OTLP trace export.
pub fn enabled_by_env() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

impl Traces {
    /// Builds the exporter the `OTEL_*` variables describe (needs a Tokio runtime when enabled).
    pub fn from_env() -> Self {
        if !enabled_by_env() {
            return Self::default();
        }
        match build_provider() {
            Ok(provider) => {
                opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
                opentelemetry::global::set_tracer_provider(provider.clone());
                Self {
                    provider: Some(provider),
                    problem: None,
                }
            }
            Err(e) => Self {
                provider: None,
                problem: Some(e),
            },
        }
    }

    /// The `tracing` layer feeding the exporter; spans of this crate at info and above.
    pub fn layer(&self) -> Option<SpanLayer> {
        let provider = self.provider.as_ref()?;
        let tracer = provider.tracer(SERVICE_NAME);
        // Not the spans of health probes and metric scrapes (`http::middleware`).
        let only_ours = Targets::new()
            .with_target("study_mode_api", tracing::Level::INFO)
            .and(filter_fn(|meta| meta.name() != PROBE_SPAN));
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(only_ours)
                .boxed(),
        )
    }

    /// Logs whether traces are exported (once the subscriber is installed).
    pub fn announce(&self) {
        if let Some(problem) = &self.problem {
            tracing::warn!(error = %problem, "traces are not exported: the OTLP exporter cannot be built");
        } else if self.provider.is_some() {
            tracing::info!("traces are exported over OTLP/HTTP");
        }
    }

    /// Whether spans are exported.
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes the spans still buffered and stops the exporter (waits at most a few seconds).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The batch processor blocks its caller while it exports; keep that off the runtime's
        // worker threads, which the export itself runs on.
        let flushed = tokio::task::spawn_blocking(move || {
            let _ = provider.force_flush();
            provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        });
        match tokio::time::timeout(FLUSH_TIMEOUT * 2, flushed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, "trace exporter did not shut down cleanly")
            }
            _ => tracing::warn!("trace exporter did not shut down in time"),
        }
    }
}

fn build_provider() -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};

    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "no async runtime to export from".to_string())?;
    let client = reqwest::Client::builder()
        .timeout(export_timeout())
        .build()
        .map_err(|e| e.to_string())?;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(Transport { client, runtime });
    // The standard default is http/protobuf (the SDK would pick http/json, also built in).
    let chosen = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if !chosen {
        builder = builder.with_protocol(Protocol::HttpBinary);
    }
    let exporter = builder.build().map_err(|e| e.to_string())?;
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The export timeout of the standard variables (milliseconds), bounded; the SDK uses it as the
/// deadline of an export with its retries, the client as the bound of each request.
fn export_timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok()?.trim().parse::<u64>().ok())
    .map_or(EXPORT_TIMEOUT, |ms| {
        Duration::from_millis(ms).clamp(Duration::from_millis(100), MAX_EXPORT_TIMEOUT)
    })
}

/// The exporter's HTTP client: the service's own reqwest, run on the service's runtime (the
/// batch processor exports from a thread of its own, outside any runtime).
#[derive(Debug)]
struct Transport {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let exchange = async move {
            let request = reqwest::Request::try_from(request)?;
            let mut answer = client.execute(request).await?;
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                let room = MAX_COLLECTOR_ANSWER.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            let mut response = Response::builder().status(answer.status());
            if let Some(headers) = response.headers_mut() {
                *headers = std::mem::take(answer.headers_mut());
            }
            Ok::<_, HttpError>(response.body(Bytes::from(body))?)
        };
        self.runtime.spawn(exchange).await?
    }
}

/// The context of an incoming request's W3C `traceparent`/`tracestate` headers (an empty
/// context when absent, malformed, or traces are off).
pub fn extract(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderReader(headers)))
}

/// Adds the `traceparent` (and `tracestate`) of the current span to outgoing `headers`; nothing
/// when traces are off.
pub fn inject_current(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderWriter(headers));
    });
}

struct HeaderReader<'a>(&'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderWriter<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// A JSON event format that adds `trace_id` and `span_id` of the current span, when it has an
/// OpenTelemetry context, to each line the wrapped format writes.
pub struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let ids = ctx.lookup_current().and_then(|span| {
            let id = span.id();
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(&id, d))
        });
        let ids = ids.and_then(|cx| {
            let sc = cx.span().span_context().clone();
            sc.is_valid()
                .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
        });
        let Some((trace_id, span_id)) = ids else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.rfind('}') {
            Some(end) => {
                let (head, tail) = line.split_at(end);
                write!(
                    writer,
                    "{head},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"{tail}"
                )
            }
            None => writer.write_str(&line),
        }
    }
}

impl<F> fmt::Debug for WithTraceIds<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithTraceIds")
    }
}
