//! The command line as an operator uses it.

use std::process::Output;

use study_mode_api::domain::api_key::{hash_secret, parse_key};

use crate::helpers::{pairs, spawn_app, test_config};

pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
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
    assert!(String::from_utf8_lossy(&first.stdout).contains("migrations applied: 7"));
    let second = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    assert!(String::from_utf8_lossy(&second.stdout).contains("migrations applied: 0"));
}

#[tokio::test]
async fn every_subcommand_has_help() {
    for sub in [
        &["serve"][..],
        &["migrate"],
        &["keys"],
        &["keys", "create"],
        &["keys", "list"],
        &["keys", "revoke"],
        &["users"],
        &["users", "list"],
        &["users", "set-tier"],
        &["users", "set-role"],
        &["users", "disable"],
        &["users", "enable"],
        &["report"],
        &["report", "questions"],
        &["openapi"],
        &["check-config"],
        &["healthcheck"],
    ] {
        let args: Vec<&str> = sub.iter().copied().chain(["--help"]).collect();
        let out = run(&args, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{sub:?} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{sub:?} --help"
        );
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn keys_create_prints_a_key_once_then_list_and_revoke_manage_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.sqlite?mode=rwc", dir.path().display());
    let env = [("DATABASE_URL", url.as_str())];

    // Act
    let created = run(
        &[
            "keys",
            "create",
            "--name",
            "ci",
            "--scopes",
            "admin,lessons:purge",
            "--tier",
            "premium",
        ],
        &env,
    )
    .await;

    // Assert
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let text = stdout(&created);
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| parse_key(l).is_some())
        .map(str::to_owned)
        .collect();
    assert_eq!(keys.len(), 1, "one key, printed once: {text}");
    let key = parse_key(&keys[0]).unwrap();
    assert_eq!(key.id.len(), 12);
    assert_eq!(key.secret.len(), 40);
    assert!(text.contains("cannot be shown again"), "{text}");
    assert!(
        !stderr(&created).contains(key.secret),
        "logs never hold the secret"
    );

    let listed = run(&["keys", "list"], &env).await;
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let table = stdout(&listed);
    let row = table
        .lines()
        .find(|l| l.starts_with(key.id))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("ci") && row.contains("admin,lessons:purge") && row.contains("premium"));
    assert!(row.trim_end().ends_with('-'), "not revoked yet: {row}");
    assert!(!table.contains(key.secret), "{table}");
    assert!(!table.contains(&hash_secret(key.secret)), "{table}");

    let revoked = run(&["keys", "revoke", key.id], &env).await;
    assert_eq!(revoked.status.code(), Some(0), "{}", stderr(&revoked));
    assert!(stdout(&revoked).contains(&format!("Revoked API key {}", key.id)));
    let table = stdout(&run(&["keys", "list"], &env).await);
    let row = table.lines().find(|l| l.starts_with(key.id)).unwrap();
    assert!(
        !row.trim_end().ends_with('-'),
        "revocation time shown: {row}"
    );
    let again = run(&["keys", "revoke", key.id], &env).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("already revoked"));

    let unknown = run(&["keys", "revoke", "nosuchkey"], &env).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no API key has id \"nosuchkey\""),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn keys_create_refuses_unknown_scopes_and_tiers_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.sqlite?mode=rwc", dir.path().display());
    let env = [("DATABASE_URL", url.as_str())];

    let scope = run(
        &["keys", "create", "--name", "ci", "--scopes", "admin,root"],
        &env,
    )
    .await;
    assert_eq!(scope.status.code(), Some(2));
    assert!(
        stderr(&scope).contains("unknown scope \"root\""),
        "{}",
        stderr(&scope)
    );
    let tier = run(
        &[
            "keys", "create", "--name", "ci", "--scopes", "admin", "--tier", "gold",
        ],
        &env,
    )
    .await;
    assert_eq!(tier.status.code(), Some(2));
    assert!(stderr(&tier).contains("gold"), "{}", stderr(&tier));

    let listed = run(&["keys", "list"], &env).await;
    assert_eq!(stdout(&listed), "No API keys.\n", "{}", stderr(&listed));
}

/// A migrated SQLite database in `dir` with one user `usr_cli1` who signed in with GitHub, and
/// one live refresh token of that user; returns its URL.
async fn database_with_a_user(dir: &std::path::Path) -> String {
    use study_mode_api::adapters::sql::refresh_tokens::SqlRefreshTokenStore;
    use study_mode_api::adapters::sql::users::SqlUserStore;
    use study_mode_api::adapters::sql::{Database, migrations};
    use study_mode_api::domain::identity::{
        Provider, ProviderProfile, RefreshTokenRecord, hash_refresh_token,
    };
    use study_mode_api::domain::ports::{RefreshTokenStore, UserStore};

    let url = format!("sqlite://{}/users.sqlite?mode=rwc", dir.display());
    let config = test_config(pairs(&[("DATABASE_URL", &url)]));
    let db = Database::connect(&config.database).await.unwrap();
    migrations::run(&db).await.unwrap();
    let profile = ProviderProfile {
        provider: Provider::Github,
        subject: "4242".to_owned(),
        email: Some("Ada@Example.org".to_owned()),
        email_verified: true,
        name: Some("Ada Lovelace".to_owned()),
    };
    let now = chrono::Utc::now();
    let user = SqlUserStore::new(db.clone())
        .sign_in(&profile, "usr_cli1", now)
        .await
        .unwrap();
    SqlRefreshTokenStore::new(db.clone())
        .insert(&RefreshTokenRecord {
            hash: hash_refresh_token("rt_cli"),
            family_id: "fam_cli".to_owned(),
            user_id: user.id,
            issued_at: now,
            expires_at: now + chrono::Duration::days(7),
            replaced_by: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    db.close().await;
    url
}

#[tokio::test]
async fn users_list_shows_a_user_who_signed_in_and_operators_change_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let url = database_with_a_user(dir.path()).await;
    let env = [("DATABASE_URL", url.as_str())];

    // Act
    let listed = run(&["users", "list"], &env).await;

    // Assert
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let table = stdout(&listed);
    let row = table
        .lines()
        .find(|l| l.starts_with("usr_cli1"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("ada@example.org") && row.contains("Ada Lovelace"),
        "{row}"
    );
    assert!(row.contains("free") && row.contains("student"), "{row}");

    let tier = run(&["users", "set-tier", "usr_cli1", "premium"], &env).await;
    assert_eq!(tier.status.code(), Some(0), "{}", stderr(&tier));
    assert_eq!(stdout(&tier), "User usr_cli1 now has tier premium.\n");
    let role = run(&["users", "set-role", "usr_cli1", "teacher"], &env).await;
    assert_eq!(stdout(&role), "User usr_cli1 now has role teacher.\n");
    let disabled = run(&["users", "disable", "usr_cli1"], &env).await;
    assert_eq!(disabled.status.code(), Some(0), "{}", stderr(&disabled));
    assert!(
        stdout(&disabled).contains("revoked 1 refresh token."),
        "{}",
        stdout(&disabled)
    );
    let again = run(&["users", "disable", "usr_cli1"], &env).await;
    assert!(
        stdout(&again).contains("already disabled"),
        "{}",
        stdout(&again)
    );
    assert!(stdout(&again).contains("revoked 0 refresh tokens"));

    let json = run(&["users", "list", "--json", "--limit", "5"], &env).await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let users: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(users[0]["id"], "usr_cli1");
    assert_eq!(users[0]["tier"], "premium");
    assert_eq!(users[0]["role"], "teacher");
    assert!(users[0]["disabled_at"].is_string(), "{users}");

    let enabled = run(&["users", "enable", "usr_cli1"], &env).await;
    assert_eq!(stdout(&enabled), "Enabled user usr_cli1.\n");
    let json = run(&["users", "list", "--json"], &env).await;
    let users: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(users[0]["disabled_at"].is_null(), "{users}");
}

#[tokio::test]
async fn users_set_tier_of_an_unknown_id_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/users.sqlite?mode=rwc", dir.path().display());
    let env = [("DATABASE_URL", url.as_str())];

    let unknown = run(&["users", "set-tier", "usr_nope", "premium"], &env).await;

    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no user has id \"usr_nope\""),
        "{}",
        stderr(&unknown)
    );
    assert_eq!(stdout(&unknown), "");
    let tier = run(&["users", "set-tier", "usr_nope", "gold"], &env).await;
    assert_eq!(tier.status.code(), Some(2), "clap refuses an unknown tier");
    let listed = run(&["users", "list"], &env).await;
    assert_eq!(stdout(&listed), "No users.\n", "{}", stderr(&listed));
}
