//! Logging: `tracing` with a filter from `LOG_LEVEL` and pretty or JSON lines.
//!
//! Every line names its target: security events use the target `security` (refused
//! credentials, …) so that operators can route them with a filter such as `security=warn`.
//!
//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set,
//! [`init_traced`] also exports the service's spans over OTLP/HTTP ([`otel`]), and JSON lines
//! written inside a span carry its `trace_id` and `span_id`.

pub mod otel;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

pub use self::otel::Traces;

/// Installs the global subscriber, writing to standard output; later calls (tests) are ignored.
pub fn init(level: &str, format: LogFormat) {
    install(level, format, std::io::stdout);
}

/// Like [`init`], but writes to standard error: for commands whose standard output is their
/// result (`keys create` prints a key there).
pub fn init_stderr(level: &str, format: LogFormat) {
    install(level, format, std::io::stderr);
}

/// Like [`init`], and exports spans over OTLP when the standard `OTEL_*` variables ask for it
/// (see [`otel`]). The long-running commands (`serve`, `worker`) keep the returned handle and
/// [`Traces::shutdown`] it at the end, which flushes the spans still buffered.
pub fn init_traced(level: &str, format: LogFormat) -> Traces {
    let traces = Traces::from_env();
    let sub = subscriber_with(level, format, std::io::stdout, traces.layer());
    let _ = tracing::subscriber::set_global_default(sub);
    traces.announce();
    traces
}

fn install<W>(level: &str, format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing::subscriber::set_global_default(subscriber(level, format, writer));
}

/// The subscriber [`init`] installs, writing to `writer`.
pub fn subscriber<W>(level: &str, format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber_with(level, format, writer, None)
}

/// The log lines of [`subscriber`], plus `spans` (the OpenTelemetry layer) when given. The log
/// filter (`LOG_LEVEL`) applies to the lines only: a quiet log still exports every span.
fn subscriber_with<W>(
    level: &str,
    format: LogFormat,
    writer: W,
    spans: Option<otel::SpanLayer>,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Driver crates are chatty at info; keep them at warn unless asked for explicitly.
    let directives = format!("sqlx=warn,sea_orm=warn,sea_orm_migration=warn,fred=warn,{level}");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_writer(writer);
    let lines = match format {
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_target(true);
            lines
                .json()
                .event_format(otel::WithTraceIds(json))
                .with_filter(filter)
                .boxed()
        }
        LogFormat::Pretty => lines.with_filter(filter).boxed(),
    };
    Box::new(tracing_subscriber::registry().with(spans).with(lines))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let sub = subscriber("info", format, move || writer.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(target: "security", reason = "bad signature", "request refused");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn security_events_name_their_target_in_json_lines() {
        let line = logged(LogFormat::Json);
        let value: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(value["target"], "security");
        assert_eq!(value["reason"], "bad signature");
    }

    #[test]
    fn security_events_name_their_target_in_pretty_lines() {
        // Drop the colour codes around the target before looking for it.
        let mut plain = String::new();
        let mut in_escape = false;
        for ch in logged(LogFormat::Pretty).chars() {
            match (in_escape, ch) {
                (false, '\u{1b}') => in_escape = true,
                (true, 'm') => in_escape = false,
                (false, c) => plain.push(c),
                (true, _) => {}
            }
        }
        assert!(plain.contains("security: request refused"), "{plain}");
    }
}
