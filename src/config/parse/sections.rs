//! Parsers of the config sections (origins, lessons, tutor, rate limits) and of the
//! shared field shapes; each records its problems in the [`Collector`] and returns a value.

use std::time::Duration;

use secrecy::SecretString;

use super::Collector;
use crate::config::{LessonsConfig, ModelHttpVersion, RateLimitConfig, RawEnv, TutorConfig};

pub(super) fn http_url(
    c: &mut Collector,
    var: &str,
    raw: &Option<String>,
    default: &str,
) -> String {
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

pub(super) fn lessons(c: &mut Collector, raw: &RawEnv) -> LessonsConfig {
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
        l1_capacity: c.number(
            "LESSON_L1_CAPACITY",
            &raw.lesson_l1_capacity,
            1_000u64,
            (1, 1_000_000),
        ),
        l1_ttl: c.secs(
            "LESSON_L1_TTL_SECS",
            &raw.lesson_l1_ttl_secs,
            60,
            (1, 86_400),
        ),
        content_ttl: c.secs(
            "CONTENT_CACHE_TTL",
            &raw.content_cache_ttl,
            86_400,
            (1, 30 * 86_400),
        ),
        upstream_fetches_per_minute: c.number(
            "LESSON_UPSTREAM_FETCHES_PER_MINUTE",
            &raw.lesson_upstream_fetches_per_minute,
            30u32,
            (1, 100_000),
        ),
        breaker_failures: c.number(
            "LESSON_SOURCE_BREAKER_FAILURES",
            &raw.lesson_source_breaker_failures,
            5u32,
            (1, 1_000),
        ),
        breaker_cool_off: c.secs(
            "LESSON_SOURCE_BREAKER_COOL_OFF_SECS",
            &raw.lesson_source_breaker_cool_off_secs,
            30,
            (1, 3_600),
        ),
        purge_all_interval: c.secs(
            "LESSON_PURGE_ALL_MIN_INTERVAL_SECS",
            &raw.lesson_purge_all_min_interval_secs,
            60,
            (0, 86_400),
        ),
        admin_secret: secret(c, "ADMIN_SECRET", &raw.admin_secret),
        webhook_secret: secret(c, "GITHUB_WEBHOOK_SECRET", &raw.github_webhook_secret),
    }
}

pub(super) fn tutor(c: &mut Collector, raw: &RawEnv) -> TutorConfig {
    let timeout = c.number(
        "MODEL_TIMEOUT_SECS",
        &raw.model_timeout_secs,
        120u64,
        (1, 900),
    );
    let http_version = match raw.model_http_version.as_deref().map(str::trim) {
        None | Some("auto") => ModelHttpVersion::Auto,
        Some("http1") => ModelHttpVersion::Http1,
        Some("http2") => ModelHttpVersion::Http2,
        Some(other) => {
            c.push(
                "MODEL_HTTP_VERSION",
                format!("{other:?} is not one of auto, http1, http2"),
            );
            ModelHttpVersion::Auto
        }
    };
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
        http_version,
        streams_per_connection: c.number(
            "MODEL_STREAMS_PER_CONNECTION",
            &raw.model_streams_per_connection,
            100usize,
            (1, 10_000),
        ),
    }
}

pub(super) fn bounded(c: &mut Collector, var: &str, raw: &Option<String>, default: &str) -> String {
    let value = raw.clone().unwrap_or_else(|| default.into());
    if value.len() > 200 || value.chars().any(char::is_control) {
        c.push(
            var,
            "must be at most 200 characters without control characters",
        );
    }
    value
}

pub(super) fn origins(c: &mut Collector, raw: &RawEnv, prod: bool) -> Vec<String> {
    if prod && raw.allowed_origins.is_none() {
        // The default names a local front end; production must say which sites may call it.
        c.push(
            "ALLOWED_ORIGINS",
            "must be set when APP_ENV=production: the https origins of the front ends (the \
             default http://localhost:3000 is for development)",
        );
        return Vec::new();
    }
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
        } else if prod && !origin.to_ascii_lowercase().starts_with("https://") {
            // A page served over http can be rewritten in transit and then call the API with
            // the student's token, so production only trusts https pages.
            c.push(
                "ALLOWED_ORIGINS",
                format!("{origin:?} is not https, refused when APP_ENV=production"),
            );
        }
    }
    list
}

/// A shared secret: at least 16 characters, so it cannot be guessed by brute force.
fn secret(c: &mut Collector, var: &str, raw: &Option<String>) -> Option<SecretString> {
    let value = raw.as_ref()?;
    if value.chars().count() < 16 {
        c.push(var, "must be at least 16 characters");
    }
    Some(SecretString::from(value.clone()))
}

/// Quotas: `RATE_LIMIT_{CHAT,API}_{FREE,PREMIUM,ADMIN}`, the Redis timeout, trusted proxies,
/// and the per-address budget of refused requests (`PREAUTH_RATE_LIMIT`).
pub(super) fn rate_limits(c: &mut Collector, raw: &RawEnv) -> RateLimitConfig {
    let mut quota = |var: &str, value: &Option<String>, default: &str| {
        let spec = value.as_deref().unwrap_or(default);
        crate::domain::rate_limit::parse_windows(spec).unwrap_or_else(|problem| {
            c.push(var, problem);
            Vec::new()
        })
    };
    let chat = [
        quota(
            "RATE_LIMIT_CHAT_FREE",
            &raw.rate_limit_chat_free,
            "20/minute,500/day",
        ),
        quota(
            "RATE_LIMIT_CHAT_PREMIUM",
            &raw.rate_limit_chat_premium,
            "60/minute,5000/day",
        ),
        quota(
            "RATE_LIMIT_CHAT_ADMIN",
            &raw.rate_limit_chat_admin,
            "unlimited",
        ),
    ];
    let api = [
        quota(
            "RATE_LIMIT_API_FREE",
            &raw.rate_limit_api_free,
            "300/minute",
        ),
        quota(
            "RATE_LIMIT_API_PREMIUM",
            &raw.rate_limit_api_premium,
            "1200/minute",
        ),
        quota(
            "RATE_LIMIT_API_ADMIN",
            &raw.rate_limit_api_admin,
            "unlimited",
        ),
    ];
    let preauth = quota("PREAUTH_RATE_LIMIT", &raw.preauth_rate_limit, "30/minute");
    let timeout = c.number(
        "RATE_LIMIT_REDIS_TIMEOUT_MS",
        &raw.rate_limit_redis_timeout_ms,
        50u64,
        (1, 10_000),
    );
    let mut trusted_proxies = Vec::new();
    for ip in raw
        .trusted_proxies
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match ip.parse() {
            Ok(ip) => trusted_proxies.push(ip),
            Err(_) => c.push("TRUSTED_PROXIES", format!("{ip:?} is not an IP address")),
        }
    }
    RateLimitConfig {
        chat,
        api,
        redis_timeout: Duration::from_millis(timeout),
        trusted_proxies,
        preauth,
        token_budgets: token_budgets(c, raw),
    }
}

/// Daily model token budgets: `TOKEN_BUDGET_{FREE,PREMIUM,ADMIN}`, tokens per UTC day or
/// `unlimited`.
fn token_budgets(c: &mut Collector, raw: &RawEnv) -> [Option<u64>; 3] {
    let mut budget = |var: &str, value: &Option<String>, default: Option<u64>| {
        let Some(spec) = value else { return default };
        crate::domain::token_budget::parse_budget(spec).unwrap_or_else(|problem| {
            c.push(var, problem);
            default
        })
    };
    [
        budget("TOKEN_BUDGET_FREE", &raw.token_budget_free, Some(200_000)),
        budget(
            "TOKEN_BUDGET_PREMIUM",
            &raw.token_budget_premium,
            Some(2_000_000),
        ),
        budget("TOKEN_BUDGET_ADMIN", &raw.token_budget_admin, None),
    ]
}
