//! The effective configuration as `NAME=value` pairs, secrets redacted (`check-config`).

use secrecy::{ExposeSecret, SecretString};

use super::{Config, ReplicaId, parse};

fn or_unset(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(unset)".into())
}

fn none_if_empty(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(",")
    }
}

impl Config {
    /// The effective configuration as `NAME=value` lines, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let redact = |s: &Option<SecretString>| match s {
            Some(_) => "***".to_string(),
            None => "(unset)".to_string(),
        };
        let mut pairs = vec![
            ("APP_ENV", format!("{:?}", self.app_env).to_lowercase()),
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("REUSE_PORT", self.reuse_port.to_string()),
            ("DATABASE_URL", self.database.redacted_url()),
            (
                "DB_MAX_CONNECTIONS",
                self.database.max_connections.to_string(),
            ),
            (
                "DB_MIN_CONNECTIONS",
                self.database.min_connections.to_string(),
            ),
            (
                "DB_ACQUIRE_TIMEOUT_SECS",
                self.database.acquire_timeout.as_secs().to_string(),
            ),
            (
                "DB_STATEMENT_TIMEOUT_MS",
                self.database.statement_timeout.as_millis().to_string(),
            ),
            ("AUTO_MIGRATE", self.database.auto_migrate.to_string()),
            (
                "REDIS_URL",
                self.redis
                    .as_ref()
                    .map_or("(unset: in-process adapters)".into(), |r| {
                        parse::redact_url(r.url.expose_secret())
                    }),
            ),
            (
                "REDIS_PASSWORD",
                redact(&self.redis.as_ref().and_then(|r| r.password.clone())),
            ),
            ("ALLOWED_ORIGINS", self.allowed_origins.join(",")),
            ("LOG_LEVEL", self.log_level.clone()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            (
                "DEV_MODE",
                match (self.dev.enabled, self.dev.explicit) {
                    (true, true) => "true (set explicitly)".into(),
                    (true, false) => "true (loopback bind, no SSO)".into(),
                    (false, _) => "false".into(),
                },
            ),
            (
                "TEST_MODE",
                "(another name of DEV_MODE: the same switch)".into(),
            ),
            ("DEV_USER_ID", self.dev.user_id.clone()),
            ("DEV_USER_EMAIL", self.dev.email.clone()),
            ("DEV_USER_NAME", self.dev.name.clone()),
            ("MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "SHUTDOWN_GRACE_SECS",
                self.shutdown_grace.as_secs().to_string(),
            ),
            (
                "HTTP_HEADER_READ_TIMEOUT_SECS",
                self.http.header_read_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_BODY_READ_TIMEOUT_SECS",
                self.http.body_read_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_IDLE_TIMEOUT_SECS",
                self.http.idle_timeout.as_secs().to_string(),
            ),
            (
                "HTTP2_MAX_CONCURRENT_STREAMS",
                self.http.http2_max_concurrent_streams.to_string(),
            ),
            (
                "MAX_CONNECTIONS",
                self.http
                    .max_connections
                    .map_or("(unset: unlimited)".into(), |n| n.to_string()),
            ),
            (
                "HSTS_MAX_AGE_SECS",
                self.http
                    .hsts_max_age
                    .map_or("(unset: no header)".into(), |n| n.to_string()),
            ),
            ("DOCS_ENABLED", self.docs_enabled.to_string()),
            ("PUBLIC_BASE_URL", self.public_base_url.clone()),
            (
                "LESSONS_DIR",
                self.lessons
                    .dir
                    .clone()
                    .unwrap_or_else(|| "(unset: GitHub)".into()),
            ),
            ("GITHUB_REPO", self.lessons.github_repo.clone()),
            ("GITHUB_BRANCH", self.lessons.github_branch.clone()),
            ("GITHUB_TOKEN", redact(&self.lessons.github_token)),
            ("LESSONS_DOCS_PREFIX", self.lessons.docs_prefix.clone()),
            (
                "GITHUB_RAW_BASE_URL",
                self.lessons.github_raw_base_url.clone(),
            ),
            (
                "LESSON_UPSTREAM_FETCHES_PER_MINUTE",
                self.lessons.upstream_fetches_per_minute.to_string(),
            ),
            (
                "LESSON_SOURCE_BREAKER_FAILURES",
                self.lessons.breaker_failures.to_string(),
            ),
            (
                "LESSON_SOURCE_BREAKER_COOL_OFF_SECS",
                self.lessons.breaker_cool_off.as_secs().to_string(),
            ),
            (
                "LESSON_PURGE_ALL_MIN_INTERVAL_SECS",
                self.lessons.purge_all_interval.as_secs().to_string(),
            ),
            ("OPENAI_API_KEY", redact(&self.tutor.openai_api_key)),
            ("OPENAI_BASE_URL", self.tutor.openai_base_url.clone()),
            ("TUTOR_MODEL_TEACH", self.tutor.model_teach.clone()),
            ("TUTOR_MODEL_ASK", self.tutor.model_ask.clone()),
            (
                "MODEL_TIMEOUT_SECS",
                self.tutor.timeout.as_secs().to_string(),
            ),
            (
                "MODEL_MAX_OUTPUT_TOKENS",
                self.tutor.max_output_tokens.to_string(),
            ),
            (
                "MODEL_HTTP_VERSION",
                self.tutor.http_version.as_str().to_string(),
            ),
            (
                "MODEL_STREAMS_PER_CONNECTION",
                self.tutor.streams_per_connection.to_string(),
            ),
            ("RATE_LIMIT_CHAT_FREE", quota(&self.rate_limits.chat[0])),
            ("RATE_LIMIT_CHAT_PREMIUM", quota(&self.rate_limits.chat[1])),
            ("RATE_LIMIT_CHAT_ADMIN", quota(&self.rate_limits.chat[2])),
            ("RATE_LIMIT_API_FREE", quota(&self.rate_limits.api[0])),
            ("RATE_LIMIT_API_PREMIUM", quota(&self.rate_limits.api[1])),
            ("RATE_LIMIT_API_ADMIN", quota(&self.rate_limits.api[2])),
            (
                "TOKEN_BUDGET_FREE",
                budget(self.rate_limits.token_budgets[0]),
            ),
            (
                "TOKEN_BUDGET_PREMIUM",
                budget(self.rate_limits.token_budgets[1]),
            ),
            (
                "TOKEN_BUDGET_ADMIN",
                budget(self.rate_limits.token_budgets[2]),
            ),
            (
                "RATE_LIMIT_REDIS_TIMEOUT_MS",
                self.rate_limits.redis_timeout.as_millis().to_string(),
            ),
            (
                "TRUSTED_PROXIES",
                self.rate_limits
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "MAX_THREADS_PER_USER",
                self.storage_limits.max_threads_per_user.to_string(),
            ),
            (
                "MAX_ITEMS_PER_THREAD",
                self.storage_limits.max_items_per_thread.to_string(),
            ),
            ("THREAD_LIST_CACHE", self.thread_list_cache.to_string()),
            (
                "TURN_LEASE_SECS",
                self.turn_lock.lease.as_secs().to_string(),
            ),
            (
                "REPLICA_ID",
                match &self.turn_lock.replica {
                    ReplicaId::Explicit(id) => id.clone(),
                    ReplicaId::Host { .. } => {
                        format!("(unset: {})", self.turn_lock.replica.resolve(self.port))
                    }
                },
            ),
            ("PREAUTH_RATE_LIMIT", quota(&self.rate_limits.preauth)),
            ("JWKS_URL", or_unset(&self.auth.jwks_url)),
            ("SSO_URL", or_unset(&self.auth.sso_url)),
            (
                "JWT_ALGORITHMS",
                self.auth
                    .algorithms
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("JWT_ISSUER", or_unset(&self.auth.issuer)),
            ("JWT_AUDIENCE", or_unset(&self.auth.audience)),
            (
                "JWKS_CACHE_TTL_SECS",
                self.auth.jwks_cache_ttl.as_secs().to_string(),
            ),
            (
                "JWKS_MIN_REFRESH_SECS",
                self.auth.jwks_min_refresh.as_secs().to_string(),
            ),
            (
                "JWKS_MAX_STALE_SECS",
                self.auth.jwks_max_stale.as_secs().to_string(),
            ),
            ("USERINFO_URL", or_unset(&self.auth.userinfo_url)),
            (
                "ALLOW_UNCHECKED_JWT_CLAIMS",
                none_if_empty(&self.auth.unchecked_claims),
            ),
            (
                "ALLOW_INSECURE_UPSTREAMS",
                none_if_empty(&self.insecure_upstreams),
            ),
        ];
        pairs.extend(self.identity.describe());
        pairs.extend(self.jobs.describe());
        pairs.extend(self.traces.describe());
        pairs
    }
}

/// A daily token budget as written in the environment (`200000` or `unlimited`).
fn budget(tokens: Option<u64>) -> String {
    tokens.map_or_else(|| "unlimited".into(), |n| n.to_string())
}

/// A quota as written in the environment (`20/minute,500/day` or `unlimited`).
fn quota(windows: &[crate::domain::rate_limit::Window]) -> String {
    if windows.is_empty() {
        return "unlimited".into();
    }
    windows
        .iter()
        .map(|w| {
            format!(
                "{}/{}",
                w.limit,
                crate::domain::rate_limit::period_name(w.period)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}
