//! Logging: `tracing` with a filter from `LOG_LEVEL` and pretty or JSON lines.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to standard output; later calls (tests) are ignored.
pub fn init(level: &str, format: LogFormat) {
    install(level, format, std::io::stdout);
}

/// Like [`init`], but writes to standard error: for commands whose standard output is their
/// result (`keys create` prints a key there).
pub fn init_stderr(level: &str, format: LogFormat) {
    install(level, format, std::io::stderr);
}

fn install<W>(level: &str, format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Driver crates are chatty at info; keep them at warn unless asked for explicitly.
    let directives = format!("sqlx=warn,sea_orm=warn,sea_orm_migration=warn,fred=warn,{level}");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
