//! Parsing and cross-field validation of [`RawEnv`] into [`Config`].

mod auth;
mod edge;
mod identity;
mod jobs;
mod sections;
mod stores;
mod traces;
mod transport;
mod turns;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{AppEnv, Config, LogFormat, RawEnv, StorageLimitsConfig};
use sections::{lessons, origins, rate_limits, tutor};
use stores::{database, redis};

const DEFAULT_SQLITE_URL: &str = "sqlite://./data/study-mode.sqlite?mode=rwc";

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// One entry per variable, in a stable order.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn single(var: &str, message: String) -> Self {
        Self {
            problems: vec![Problem {
                var: var.into(),
                message,
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.var, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems while parsing, so that all of them are reported at once.
#[derive(Default)]
struct Collector {
    problems: Vec<Problem>,
}

impl Collector {
    fn push(&mut self, var: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            var: var.into(),
            message: message.into(),
        });
    }

    fn number<T: FromStr + PartialOrd + fmt::Display + Copy>(
        &mut self,
        var: &str,
        raw: &Option<String>,
        default: T,
        range: (T, T),
    ) -> T {
        let Some(text) = raw else { return default };
        match text.trim().parse::<T>() {
            Ok(v) if v >= range.0 && v <= range.1 => v,
            Ok(v) => {
                self.push(
                    var,
                    format!("{v} is out of range {}..={}", range.0, range.1),
                );
                default
            }
            Err(_) => {
                self.push(var, format!("{text:?} is not a whole number"));
                default
            }
        }
    }

    /// A whole number of seconds as a [`Duration`], within `range` (seconds).
    fn secs(
        &mut self,
        var: &str,
        raw: &Option<String>,
        default: u64,
        range: (u64, u64),
    ) -> Duration {
        Duration::from_secs(self.number(var, raw, default, range))
    }

    /// A comma-separated list of names from `allowed`, each once; any other name is a problem.
    fn names(&mut self, var: &str, raw: &Option<String>, allowed: &[&str]) -> Vec<String> {
        let mut named: Vec<String> = Vec::new();
        let spec = raw.as_deref().unwrap_or("");
        for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !allowed.contains(&name) {
                self.push(
                    var,
                    format!("{name:?} is not one of {}", allowed.join(", ")),
                );
            } else if !named.iter().any(|n| n == name) {
                named.push(name.to_string());
            }
        }
        named
    }

    fn boolean(&mut self, var: &str, raw: &Option<String>, default: bool) -> bool {
        let Some(text) = raw else { return default };
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.push(var, format!("{text:?} is not a boolean (true or false)"));
                default
            }
        }
    }
}

pub(super) fn validate(raw: RawEnv) -> Result<Config, ConfigError> {
    let mut c = Collector::default();

    let app_env = match raw.app_env.as_deref().map(str::trim) {
        None | Some("development") => AppEnv::Development,
        Some("production") => AppEnv::Production,
        Some(other) => {
            c.push(
                "APP_ENV",
                format!("{other:?} is not one of development, production"),
            );
            AppEnv::Development
        }
    };
    let prod = app_env == AppEnv::Production;

    let host = raw
        .host
        .clone()
        .unwrap_or_else(|| if prod { "0.0.0.0" } else { "127.0.0.1" }.into());
    if host != "localhost" && host.parse::<std::net::IpAddr>().is_err() {
        c.push("HOST", format!("{host:?} is not an IP address"));
    }
    let port = c.number("PORT", &raw.port, 8000u16, (0, u16::MAX));
    let reuse_port = c.boolean("REUSE_PORT", &raw.reuse_port, false);

    let database = database(&mut c, &raw);
    let redis = redis(&mut c, &raw);
    let allowed_origins = origins(&mut c, &raw, prod);

    let log_level = raw.log_level.clone().unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        c.push(
            "LOG_LEVEL",
            format!("{log_level:?} is not a level or filter (e.g. info, debug)"),
        );
    }
    let log_format = match raw.log_format.as_deref().map(str::trim) {
        None => {
            if prod {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            }
        }
        Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => {
            c.push(
                "LOG_FORMAT",
                format!("{other:?} is not one of pretty, json"),
            );
            LogFormat::Pretty
        }
    };

    let max_body_bytes = c.number(
        "MAX_BODY_BYTES",
        &raw.max_body_bytes,
        1 << 20,
        (1024, 64 << 20),
    );
    let grace = c.number(
        "SHUTDOWN_GRACE_SECS",
        &raw.shutdown_grace_secs,
        30u64,
        (0, 600),
    );
    let http = edge::edge(&mut c, &raw);
    let docs_enabled = c.boolean("DOCS_ENABLED", &raw.docs_enabled, !prod);
    let bound = if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };
    let public_base_url =
        sections::http_url(&mut c, "PUBLIC_BASE_URL", &raw.public_base_url, &bound);
    let lessons = lessons(&mut c, &raw);
    let tutor = tutor(&mut c, &raw);
    let rate_limits = rate_limits(&mut c, &raw);
    let storage_limits = StorageLimitsConfig {
        max_threads_per_user: c.number(
            "MAX_THREADS_PER_USER",
            &raw.max_threads_per_user,
            1_000u64,
            (1, 1_000_000),
        ),
        // A turn stores two items (the message and the answer), so fewer would refuse every turn.
        max_items_per_thread: c.number(
            "MAX_ITEMS_PER_THREAD",
            &raw.max_items_per_thread,
            1_000u64,
            (2, 1_000_000),
        ),
    };
    let thread_list_cache = c.boolean("THREAD_LIST_CACHE", &raw.thread_list_cache, true);
    let turn_lock = turns::turn_lock(&mut c, &raw, reuse_port);
    let auth = auth::auth(&mut c, &raw, prod);
    let identity = identity::identity(&mut c, &raw, prod, &allowed_origins, &public_base_url);
    let dev = auth::dev(&mut c, &raw, prod, &host, &auth, &identity);
    let jobs = jobs::jobs(&mut c, &raw, prod);
    let traces = traces::traces(&mut c, &raw);
    let insecure_upstreams = transport::insecure_upstreams(
        &mut c,
        &raw,
        prod,
        (&lessons, &tutor, &jobs),
        &auth,
        &identity,
    );

    if !c.problems.is_empty() {
        return Err(ConfigError {
            problems: c.problems,
        });
    }
    Ok(Config {
        app_env,
        host,
        port,
        reuse_port,
        database,
        redis,
        allowed_origins,
        log_level,
        log_format,
        dev,
        max_body_bytes,
        shutdown_grace: Duration::from_secs(grace),
        http,
        docs_enabled,
        public_base_url,
        lessons,
        tutor,
        rate_limits,
        storage_limits,
        thread_list_cache,
        turn_lock,
        auth,
        identity,
        insecure_upstreams,
        jobs,
        traces,
    })
}

/// Replaces the password of a URL with `***`; leaves anything unparsable as `(unparsable)`.
pub(super) fn redact_url(raw: &str) -> String {
    if raw.starts_with("sqlite:") {
        return raw.to_string();
    }
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "(unparsable)".to_string(),
    }
}

#[cfg(test)]
mod tests;
