//! Parsing and cross-field validation of [`RawEnv`] into [`Config`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::{
    AppEnv, Config, DatabaseConfig, DevConfig, LessonsConfig, LogFormat, RawEnv, RedisConfig,
    TutorConfig,
};

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

    let dev_mode = c.boolean("DEV_MODE", &raw.dev_mode, !prod);
    if prod && dev_mode {
        c.push(
            "DEV_MODE",
            "must be false when APP_ENV=production (it trusts X-User-ID headers)",
        );
    }
    let dev = DevConfig {
        enabled: dev_mode,
        user_id: bounded(&mut c, "DEV_USER_ID", &raw.dev_user_id, "dev-user"),
        email: bounded(
            &mut c,
            "DEV_USER_EMAIL",
            &raw.dev_user_email,
            "dev@localhost",
        ),
        name: bounded(&mut c, "DEV_USER_NAME", &raw.dev_user_name, "Dev Student"),
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
    let docs_enabled = c.boolean("DOCS_ENABLED", &raw.docs_enabled, !prod);
    let lessons = lessons(&mut c, &raw);
    let tutor = tutor(&mut c, &raw);

    if !c.problems.is_empty() {
        return Err(ConfigError {
            problems: c.problems,
        });
    }
    Ok(Config {
        app_env,
        host,
        port,
        database,
        redis,
        allowed_origins,
        log_level,
        log_format,
        dev,
        max_body_bytes,
        shutdown_grace: Duration::from_secs(grace),
        docs_enabled,
        lessons,
        tutor,
    })
}

fn http_url(c: &mut Collector, var: &str, raw: &Option<String>, default: &str) -> String {
    let value = raw
        .clone()
        .unwrap_or_else(|| default.into())
        .trim()
        .trim_end_matches('/')
        .to_string();
    if !url::Url::parse(&value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    {
        c.push(var, format!("{value:?} is not an http(s) URL"));
    }
    value
}

fn lessons(c: &mut Collector, raw: &RawEnv) -> LessonsConfig {
    let repo = raw
        .github_repo
        .clone()
        .unwrap_or_else(|| "panaversity/agentfactory".into());
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
            && !s.contains("..")
    };
    if repo.split('/').count() != 2 || !plain(&repo) {
        c.push("GITHUB_REPO", format!("{repo:?} is not owner/name"));
    }
    let branch = raw.github_branch.clone().unwrap_or_else(|| "main".into());
    if !plain(&branch) {
        c.push("GITHUB_BRANCH", format!("{branch:?} is not a branch name"));
    }
    let prefix = raw
        .lessons_docs_prefix
        .clone()
        .unwrap_or_else(|| "apps/learn-app/docs".into());
    let prefix = prefix.trim_matches('/').to_string();
    if !plain(&prefix) {
        c.push(
            "LESSONS_DOCS_PREFIX",
            format!("{prefix:?} is not a folder path"),
        );
    }
    if let Some(dir) = &raw.lessons_dir
        && !std::path::Path::new(dir).is_dir()
    {
        c.push("LESSONS_DIR", format!("{dir:?} is not a folder"));
    }
    LessonsConfig {
        dir: raw.lessons_dir.clone(),
        github_repo: repo,
        github_branch: branch,
        github_token: raw.github_token.clone().map(SecretString::from),
        docs_prefix: prefix,
        github_raw_base_url: http_url(
            c,
            "GITHUB_RAW_BASE_URL",
            &raw.github_raw_base_url,
            "https://raw.githubusercontent.com",
        ),
    }
}

fn tutor(c: &mut Collector, raw: &RawEnv) -> TutorConfig {
    let timeout = c.number(
        "MODEL_TIMEOUT_SECS",
        &raw.model_timeout_secs,
        120u64,
        (1, 900),
    );
    TutorConfig {
        openai_api_key: raw.openai_api_key.clone().map(SecretString::from),
        openai_base_url: http_url(
            c,
            "OPENAI_BASE_URL",
            &raw.openai_base_url,
            "https://api.openai.com/v1",
        ),
        model_teach: raw
            .tutor_model_teach
            .clone()
            .unwrap_or_else(|| "gpt-4.1-mini".into()),
        model_ask: raw
            .tutor_model_ask
            .clone()
            .unwrap_or_else(|| "gpt-4.1-mini".into()),
        timeout: Duration::from_secs(timeout),
        max_output_tokens: c.number(
            "MODEL_MAX_OUTPUT_TOKENS",
            &raw.model_max_output_tokens,
            1_000u32,
            (16, 32_000),
        ),
    }
}

fn bounded(c: &mut Collector, var: &str, raw: &Option<String>, default: &str) -> String {
    let value = raw.clone().unwrap_or_else(|| default.into());
    if value.len() > 200 || value.chars().any(char::is_control) {
        c.push(
            var,
            "must be at most 200 characters without control characters",
        );
    }
    value
}

fn database(c: &mut Collector, raw: &RawEnv) -> DatabaseConfig {
    let url = match (&raw.database_url, &raw.postgres_server) {
        (Some(url), _) => url.trim().to_string(),
        (None, Some(server)) => compose_postgres_url(c, raw, server),
        (None, None) => DEFAULT_SQLITE_URL.to_string(),
    };
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|p| url.starts_with(p)) {
        c.push(
            "DATABASE_URL",
            "must start with sqlite:, postgres:// or postgresql://",
        );
    }
    let max = c.number(
        "DB_MAX_CONNECTIONS",
        &raw.db_max_connections,
        20u32,
        (1, 10_000),
    );
    let min = c.number(
        "DB_MIN_CONNECTIONS",
        &raw.db_min_connections,
        2u32,
        (0, 10_000),
    );
    if min > max {
        c.push(
            "DB_MIN_CONNECTIONS",
            format!("{min} exceeds DB_MAX_CONNECTIONS ({max})"),
        );
    }
    let acquire = c.number(
        "DB_ACQUIRE_TIMEOUT_SECS",
        &raw.db_acquire_timeout_secs,
        30u64,
        (1, 600),
    );
    let statement = c.number(
        "DB_STATEMENT_TIMEOUT_MS",
        &raw.db_statement_timeout_ms,
        30_000u64,
        (1, 3_600_000),
    );
    DatabaseConfig {
        url: SecretString::from(url),
        max_connections: max,
        min_connections: min,
        acquire_timeout: Duration::from_secs(acquire),
        statement_timeout: Duration::from_millis(statement),
        auto_migrate: c.boolean("AUTO_MIGRATE", &raw.auto_migrate, true),
    }
}

fn compose_postgres_url(c: &mut Collector, raw: &RawEnv, server: &str) -> String {
    let port = c.number("POSTGRES_PORT", &raw.postgres_port, 5432u16, (1, u16::MAX));
    let mut url = match url::Url::parse(&format!("postgres://{}:{port}", server.trim())) {
        Ok(url) => url,
        Err(_) => {
            c.push("POSTGRES_SERVER", format!("{server:?} is not a host name"));
            return String::new();
        }
    };
    let user = raw.postgres_user.as_deref().unwrap_or("postgres");
    let db = raw.postgres_db.as_deref().unwrap_or("study_mode");
    // set_username/set_password percent-encode, so any password is safe in the URL.
    let _ = url.set_username(user);
    if let Some(pw) = &raw.postgres_password {
        let _ = url.set_password(Some(pw));
    }
    url.set_path(db);
    url.to_string()
}

fn redis(c: &mut Collector, raw: &RawEnv) -> Option<RedisConfig> {
    let url = raw.redis_url.as_ref()?.trim().to_string();
    if !(url.starts_with("redis://") || url.starts_with("rediss://"))
        || url::Url::parse(&url).is_err()
    {
        c.push("REDIS_URL", "must be a redis:// or rediss:// URL");
    }
    Some(RedisConfig {
        url: SecretString::from(url),
        password: raw.redis_password.clone().map(SecretString::from),
    })
}

fn origins(c: &mut Collector, raw: &RawEnv, prod: bool) -> Vec<String> {
    let text = raw
        .allowed_origins
        .as_deref()
        .unwrap_or("http://localhost:3000");
    let list: Vec<String> = text
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    for origin in &list {
        if origin == "*" {
            if prod {
                c.push(
                    "ALLOWED_ORIGINS",
                    "\"*\" is not allowed when APP_ENV=production",
                );
            }
            continue;
        }
        let ok = url::Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/"
        });
        if !ok {
            c.push(
                "ALLOWED_ORIGINS",
                format!("{origin:?} is not an origin like https://example.com"),
            );
        }
    }
    list
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
