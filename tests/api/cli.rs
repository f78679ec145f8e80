//! The command line as an operator uses it.

use std::process::Output;

use crate::helpers::spawn_app;

async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        // An empty folder, so a developer's .env cannot leak into the test.
        .current_dir(dir.path())
        .output()
        .await
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn production_with_dev_mode_refuses_to_start_naming_the_variable() {
    let out = run(
        &["serve"],
        &[("APP_ENV", "production"), ("DEV_MODE", "true")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("DEV_MODE"), "{}", stderr(&out));
}

#[tokio::test]
async fn production_with_a_wildcard_origin_refuses_to_start_naming_the_variable() {
    let out = run(&[], &[("APP_ENV", "production"), ("ALLOWED_ORIGINS", "*")]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ALLOWED_ORIGINS"), "{}", stderr(&out));
}

#[tokio::test]
async fn invalid_configuration_lists_every_problem_one_line_each() {
    let out = run(
        &["serve"],
        &[
            ("PORT", "x"),
            ("LOG_FORMAT", "xml"),
            ("DB_MAX_CONNECTIONS", "0"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    for var in ["PORT:", "LOG_FORMAT:", "DB_MAX_CONNECTIONS:"] {
        assert_eq!(
            text.lines()
                .filter(|l| l.trim_start().starts_with(var))
                .count(),
            1,
            "{var} in {text}"
        );
    }
}

#[tokio::test]
async fn check_config_prints_the_effective_configuration_with_secrets_redacted() {
    let out = run(
        &["check-config"],
        &[
            ("DATABASE_URL", "postgres://app:s3cret@db:5432/study"),
            ("REDIS_PASSWORD", "hunter2"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DATABASE_URL=postgres://app:***@db:5432/study"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
    let bad = run(&["check-config"], &[("APP_ENV", "staging")]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("APP_ENV"));
}

#[tokio::test]
async fn healthcheck_exits_0_for_a_live_service_and_1_otherwise() {
    let app = spawn_app().await;
    let ok = run(&["healthcheck", "--url", &app.url("/health")], &[]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = run(
        &["healthcheck", "--url", &format!("http://{closed}/health")],
        &[],
    )
    .await;
    assert_eq!(down.status.code(), Some(1));
}

#[tokio::test]
async fn migrate_applies_migrations_once_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.sqlite?mode=rwc", dir.path().display());
    let first = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("migrations applied: 1"));
    let second = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    assert!(String::from_utf8_lossy(&second.stdout).contains("migrations applied: 0"));
}

#[tokio::test]
async fn every_subcommand_has_help() {
    for sub in ["serve", "migrate", "openapi", "check-config", "healthcheck"] {
        let out = run(&[sub, "--help"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{sub} --help"
        );
    }
}
