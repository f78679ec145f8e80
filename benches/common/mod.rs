//! Shared pieces of the load benches: starting the release binary as a child process on a free
//! loopback port, waiting for readiness, fresh Postgres databases.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The service running as a child process.
pub struct Service {
    pub child: tokio::process::Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

/// Starts the release binary with `env` (plus PORT, a SQLite file unless `DATABASE_URL` is
/// given, `LOG_LEVEL=warn`) and waits until `/health/ready` answers 200.
pub async fn start_service(env: &[(&str, String)]) -> Service {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut vars: Vec<(String, String)> = vec![
        ("PORT".into(), port.to_string()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/bench.sqlite?mode=rwc", dir.path().display()),
        ),
        ("LOG_LEVEL".into(), "warn".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"))
        .env_clear()
        .envs(vars)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the service");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Service {
                child,
                base,
                _dir: dir,
            };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the service did not become ready");
}

/// A fresh database next to `admin` (a Postgres URL).
pub async fn fresh_postgres(admin: &str) -> String {
    use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("BENCH_DATABASE_URL reachable");
    let name = format!("smbench_{}", uuid::Uuid::new_v4().simple());
    conn.execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .expect("create database");
    let mut url = url::Url::parse(admin).expect("URL");
    url.set_path(&name);
    url.to_string()
}

/// `--name value` from the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The value at percentile `p` (0..=1) of sorted microseconds, in milliseconds.
pub fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}
