use super::*;
use secrecy::ExposeSecret;

mod security;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn vars(err: &ConfigError) -> Vec<&str> {
    err.problems.iter().map(|p| p.var.as_str()).collect()
}

#[test]
fn defaults_are_the_embedded_development_profile() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.app_env, AppEnv::Development);
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 8000);
    assert_eq!(c.database.url.expose_secret(), DEFAULT_SQLITE_URL);
    assert!(c.redis.is_none());
    assert!(c.dev.enabled);
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert_eq!(c.max_body_bytes, 1 << 20);
    assert_eq!(c.allowed_origins, vec!["http://localhost:3000"]);
}

#[test]
fn production_profile_changes_host_logs_and_dev_mode_defaults() {
    let c = cfg(&[
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", "https://book.example"),
    ])
    .unwrap();
    assert_eq!(c.host, "0.0.0.0");
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(!c.dev.enabled);
    assert!(!c.docs_enabled);
}

#[test]
fn production_refuses_dev_mode_and_wildcard_origins_naming_each_variable() {
    let err = cfg(&[
        ("APP_ENV", "production"),
        ("DEV_MODE", "true"),
        ("ALLOWED_ORIGINS", "*"),
    ])
    .unwrap_err();
    assert_eq!(vars(&err), vec!["ALLOWED_ORIGINS", "DEV_MODE"]);
}

#[test]
fn every_problem_is_listed_at_once() {
    let err = cfg(&[
        ("PORT", "eighty"),
        ("APP_ENV", "staging"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("LOG_FORMAT", "xml"),
        ("REDIS_URL", "http://x"),
    ])
    .unwrap_err();
    assert_eq!(err.problems.len(), 5, "{err}");
    assert!(
        err.to_string()
            .contains("PORT: \"eighty\" is not a whole number")
    );
}

#[test]
fn model_http_version_is_one_of_three_words_and_streams_per_connection_is_bounded() {
    let c = cfg(&[("MODEL_HTTP_VERSION", "http2")]).unwrap();
    assert_eq!(c.tutor.http_version, crate::config::ModelHttpVersion::Http2);
    assert_eq!(c.tutor.streams_per_connection, 100);
    let err = cfg(&[
        ("MODEL_HTTP_VERSION", "h3"),
        ("MODEL_STREAMS_PER_CONNECTION", "0"),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("MODEL_HTTP_VERSION"), "{text}");
    assert!(text.contains("MODEL_STREAMS_PER_CONNECTION"), "{text}");
}

#[test]
fn storage_limits_default_to_a_thousand_and_refuse_values_that_would_refuse_every_turn() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.storage_limits.max_threads_per_user, 1_000);
    assert_eq!(c.storage_limits.max_items_per_thread, 1_000);
    let c = cfg(&[("MAX_THREADS_PER_USER", "5"), ("MAX_ITEMS_PER_THREAD", "6")]).unwrap();
    assert_eq!(c.storage_limits.max_threads_per_user, 5);
    assert_eq!(c.storage_limits.max_items_per_thread, 6);
    let err = cfg(&[("MAX_THREADS_PER_USER", "0"), ("MAX_ITEMS_PER_THREAD", "1")]).unwrap_err();
    assert_eq!(
        vars(&err),
        ["MAX_THREADS_PER_USER", "MAX_ITEMS_PER_THREAD"],
        "{err}"
    );
}

#[test]
fn postgres_url_is_composed_from_parts_with_an_encoded_password() {
    let c = cfg(&[
        ("POSTGRES_SERVER", "db"),
        ("POSTGRES_USER", "app"),
        ("POSTGRES_PASSWORD", "p@ss/word"),
        ("POSTGRES_DB", "study"),
    ])
    .unwrap();
    assert_eq!(
        c.database.url.expose_secret(),
        "postgres://app:p%40ss%2Fword@db:5432/study"
    );
    assert_eq!(
        c.database.redacted_url(),
        "postgres://app:***@db:5432/study"
    );
}

#[test]
fn secrets_never_appear_in_debug_or_description() {
    let c = cfg(&[
        ("DATABASE_URL", "postgres://u:hunter2@h/db"),
        ("REDIS_URL", "redis://:hunter3@r:6379"),
        ("REDIS_PASSWORD", "hunter4"),
    ])
    .unwrap();
    let shown = format!("{c:?} {c}");
    for secret in ["hunter2", "hunter3", "hunter4"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[test]
fn min_connections_above_max_is_refused() {
    let err = cfg(&[("DB_MIN_CONNECTIONS", "5"), ("DB_MAX_CONNECTIONS", "2")]).unwrap_err();
    assert_eq!(vars(&err), vec!["DB_MIN_CONNECTIONS"]);
}

#[test]
fn empty_values_count_as_unset() {
    let c = cfg(&[("REDIS_URL", ""), ("PORT", " ")]).unwrap();
    assert!(c.redis.is_none());
    assert_eq!(c.port, 8000);
}

#[test]
fn the_preauth_budget_defaults_to_30_a_minute_and_uses_the_quota_syntax() {
    let default = cfg(&[]).unwrap().rate_limits.preauth;
    assert_eq!(
        default,
        vec![crate::domain::rate_limit::Window {
            limit: 30,
            period: std::time::Duration::from_secs(60)
        }]
    );
    let off = cfg(&[("PREAUTH_RATE_LIMIT", "unlimited")]).unwrap();
    assert!(off.rate_limits.preauth.is_empty());
    let err = cfg(&[("PREAUTH_RATE_LIMIT", "30/fortnight")]).unwrap_err();
    assert_eq!(vars(&err), vec!["PREAUTH_RATE_LIMIT"]);
    let shown = cfg(&[("PREAUTH_RATE_LIMIT", "10/minute,100/hour")])
        .unwrap()
        .describe();
    assert!(
        shown
            .iter()
            .any(|(k, v)| *k == "PREAUTH_RATE_LIMIT" && v == "10/minute,100/hour"),
        "{shown:?}"
    );
}

#[test]
fn lesson_source_protections_have_defaults_and_refuse_out_of_range_values() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.lessons.upstream_fetches_per_minute, 30);
    assert_eq!(c.lessons.breaker_failures, 5);
    assert_eq!(c.lessons.breaker_cool_off, Duration::from_secs(30));
    assert_eq!(c.lessons.purge_all_interval, Duration::from_secs(60));
    let c = cfg(&[
        ("LESSON_UPSTREAM_FETCHES_PER_MINUTE", "5"),
        ("LESSON_SOURCE_BREAKER_FAILURES", "2"),
        ("LESSON_SOURCE_BREAKER_COOL_OFF_SECS", "600"),
        ("LESSON_PURGE_ALL_MIN_INTERVAL_SECS", "0"),
    ])
    .unwrap();
    assert_eq!(c.lessons.upstream_fetches_per_minute, 5);
    assert_eq!(c.lessons.breaker_failures, 2);
    assert_eq!(c.lessons.breaker_cool_off, Duration::from_secs(600));
    assert_eq!(c.lessons.purge_all_interval, Duration::ZERO);
    let err = cfg(&[
        ("LESSON_UPSTREAM_FETCHES_PER_MINUTE", "0"),
        ("LESSON_SOURCE_BREAKER_FAILURES", "0"),
        ("LESSON_SOURCE_BREAKER_COOL_OFF_SECS", "7200"),
        ("LESSON_PURGE_ALL_MIN_INTERVAL_SECS", "-1"),
    ])
    .unwrap_err();
    assert_eq!(err.problems.len(), 4, "{err:?}");
}

#[test]
fn the_public_base_url_defaults_to_the_bound_address_and_must_be_http() {
    assert_eq!(cfg(&[]).unwrap().public_base_url, "http://127.0.0.1:8000");
    assert_eq!(
        cfg(&[("HOST", "::1"), ("PORT", "9000")])
            .unwrap()
            .public_base_url,
        "http://[::1]:9000"
    );
    let set = cfg(&[("PUBLIC_BASE_URL", "https://api.example.com/")]).unwrap();
    assert_eq!(set.public_base_url, "https://api.example.com");
    let err = cfg(&[("PUBLIC_BASE_URL", "api.example.com")]).unwrap_err();
    assert_eq!(vars(&err), ["PUBLIC_BASE_URL"]);
}

#[test]
fn token_budgets_default_per_tier_and_take_tokens_or_unlimited() {
    let default = cfg(&[]).unwrap().rate_limits.token_budgets;
    assert_eq!(default, [Some(200_000), Some(2_000_000), None]);
    let set = cfg(&[
        ("TOKEN_BUDGET_FREE", "50"),
        ("TOKEN_BUDGET_PREMIUM", "unlimited"),
        ("TOKEN_BUDGET_ADMIN", "9000000"),
    ])
    .unwrap();
    assert_eq!(
        set.rate_limits.token_budgets,
        [Some(50), None, Some(9_000_000)]
    );
    let shown = set.describe();
    assert!(
        shown
            .iter()
            .any(|(k, v)| *k == "TOKEN_BUDGET_PREMIUM" && v == "unlimited"),
        "{shown:?}"
    );
    let err = cfg(&[("TOKEN_BUDGET_FREE", "0"), ("TOKEN_BUDGET_ADMIN", "lots")]).unwrap_err();
    assert_eq!(vars(&err), vec!["TOKEN_BUDGET_FREE", "TOKEN_BUDGET_ADMIN"]);
}
