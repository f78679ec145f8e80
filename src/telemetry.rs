//! Logging: `tracing` with a filter from `LOG_LEVEL` and pretty or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; later calls (tests) are ignored.
pub fn init(level: &str, format: LogFormat) {
    // Driver crates are chatty at info; keep them at warn unless asked for explicitly.
    let directives = format!("sqlx=warn,sea_orm=warn,sea_orm_migration=warn,fred=warn,{level}");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
