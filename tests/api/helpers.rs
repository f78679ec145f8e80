//! `spawn_app()` and friends: a service on 127.0.0.1:0 with its own database.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use secrecy::ExposeSecret;
use study_mode_api::bootstrap::Application;
use study_mode_api::config::Config;
use study_mode_api::http::metrics::Metrics;
use tokio::sync::{OnceCell, oneshot};

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        study_mode_api::telemetry::init("debug", study_mode_api::config::LogFormat::Pretty);
    }
});

/// A running service and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// Keeps the SQLite folder alive for the test's duration.
    pub _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the service")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("body is JSON"))
    }

    /// The items of a thread of development user `user`, oldest first, through the REST mirror
    /// (`GET /v1/threads/{id}/items`, first page).
    pub async fn rest_items(&self, user: &str, thread_id: &str) -> Vec<serde_json::Value> {
        let resp = self
            .client
            .get(self.url(&format!("/v1/threads/{thread_id}/items?order=asc")))
            .header("x-user-id", user)
            .send()
            .await
            .expect("request reaches the service");
        assert_eq!(resp.status(), 200, "items of {thread_id}");
        let page: serde_json::Value = resp.json().await.expect("body is JSON");
        page["data"].as_array().expect("items").clone()
    }

    /// Sends the shutdown signal and waits for the server to finish draining.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server
            .take()
            .expect("server running")
            .await
            .expect("server task not cancelled")
    }
}

pub fn pairs(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Test configuration: port 0, quiet, plus `overrides`.
pub fn test_config(overrides: Vec<(String, String)>) -> Config {
    let mut vars = pairs(&[
        ("PORT", "0"),
        ("HOST", "127.0.0.1"),
        ("SHUTDOWN_GRACE_SECS", "5"),
        // No book sync worker polling in the background of tests that do not sync (hundreds
        // of services run side by side); the sync tests turn it on.
        ("WORKER_IN_PROCESS", "false"),
        ("SYNC_ON_START", "false"),
        // No token budget in the way of suites that run many turns as one user (a Redis-backed
        // budget is shared across runs); the budget tests set their own.
        ("TOKEN_BUDGET_FREE", "unlimited"),
        ("TOKEN_BUDGET_PREMIUM", "unlimited"),
    ]);
    vars.retain(|(k, _)| overrides.iter().all(|(o, _)| o != k));
    vars.extend(overrides);
    Config::from_vars(vars).expect("test configuration is valid")
}

/// A service on the embedded defaults (SQLite in a temporary folder).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(vec![]).await
}

/// A service on SQLite with extra variables.
pub async fn spawn_app_with(overrides: Vec<(String, String)>) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!(
        "sqlite://{}/nested/app.sqlite?mode=rwc",
        dir.path().display()
    );
    let mut vars = pairs(&[("DATABASE_URL", &url)]);
    vars.extend(overrides);
    let mut app = spawn_with_config(test_config(vars)).await;
    app._dir = Some(dir);
    app
}

pub async fn spawn_with_config(config: Config) -> TestApp {
    LazyLock::force(&TRACING);
    // The default SQLite file under `data/` would be shared by every test running beside this
    // one: each test names its own database (`spawn_app_with` makes a temporary one).
    assert!(
        !config.database.url.expose_secret().contains("./data/"),
        "a test service needs its own DATABASE_URL"
    );
    let app = Application::build(config)
        .await
        .expect("application builds");
    spawn_built(app)
}

/// Runs an application built by the test (which may keep handles on its services first).
pub fn spawn_built(app: Application) -> TestApp {
    LazyLock::force(&TRACING);
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        _dir: None,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// Serves an arbitrary route behind the service's middleware stack, to test the stack itself.
pub async fn spawn_route(route: poem::Route, overrides: &[(&str, &str)]) -> SocketAddr {
    LazyLock::force(&TRACING);
    let config = test_config(pairs(overrides));
    let ep = study_mode_api::http::with_middleware(route, &config, Arc::new(Metrics::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    let addr = *poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .expect("tcp");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(ep));
    addr
}

/// A real service for the tests: the URL in `var`; else, with the `containers` feature and a
/// reachable Docker engine, a container started once per test process; else a skip notice.
/// With `CI=true` a missing service fails the test instead of skipping it.
async fn service_url(var: &str, image: &str) -> Option<String> {
    if let Ok(v) = std::env::var(var)
        && !v.trim().is_empty()
    {
        return Some(v);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{var} must be set when CI=true: the suite must not skip real-service tests");
    }
    #[cfg(feature = "containers")]
    if let Some(url) = crate::containers::start(image).await {
        return Some(url);
    }
    eprintln!(
        "SKIP: {var} is not set (and no {image} container could be started); skipping this test"
    );
    None
}

/// `TEST_DATABASE_URL` (or a Postgres container), or a skip notice (a failure when `CI=true`).
pub async fn test_database_url() -> Option<String> {
    service_url("TEST_DATABASE_URL", "postgres").await
}

/// `TEST_REDIS_URL` (or a Redis container), or a skip notice (a failure when `CI=true`).
pub async fn test_redis_url() -> Option<String> {
    service_url("TEST_REDIS_URL", "redis").await
}

static STALE_DATABASES_DROPPED: OnceCell<()> = OnceCell::const_new();

/// Creates a fresh database `smtest_<uuid>` next to the one `admin_url` names and returns its
/// URL. Databases left by earlier runs are dropped once per test process.
/// Whether the test database `name` (`smtest_<UUIDv7>`, whose first 48 bits are its creation
/// time in ms) was made over two hours ago, or does not carry a plausible time.
fn abandoned(name: &str) -> bool {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let made_ms = name
        .strip_prefix("smtest_")
        .and_then(|hex| hex.get(..12))
        .and_then(|ms| i64::from_str_radix(ms, 16).ok());
    match made_ms {
        Some(made) if made <= now_ms => now_ms - made > 2 * 3_600 * 1_000,
        _ => true,
    }
}

pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("TEST_DATABASE_URL is reachable");
    STALE_DATABASES_DROPPED
        .get_or_init(|| async {
            let mut c = PgConnection::connect(admin_url)
                .await
                .expect("TEST_DATABASE_URL is reachable");
            let rows = c
                .fetch_all("SELECT datname FROM pg_database WHERE datname LIKE 'smtest\\_%'")
                .await
                .expect("list test databases");
            for row in rows {
                let name: String = row.get(0);
                // Databases of test runs still going (other checkouts on this machine) are
                // left alone: only those made over two hours ago are leftovers.
                if !abandoned(&name) {
                    continue;
                }
                let _ = c
                    .execute(AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .await;
            }
        })
        .await;
    let name = format!("smtest_{}", uuid::Uuid::now_v7().simple());
    conn.execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Replaces host and port of a URL (to route it through a [`crate::proxy::TcpProxy`]).
pub fn via(url: &str, addr: SocketAddr) -> String {
    let mut url = url::Url::parse(url).expect("URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.to_string()
}

/// The socket address a URL points at.
pub fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).expect("URL");
    let host = url.host_str().expect("host").to_string();
    let port = url.port_or_known_default().unwrap_or(match url.scheme() {
        "redis" => 6379,
        _ => 5432,
    });
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .expect("resolve")
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 address")
}

/// Polls readiness until `want` status or the deadline; returns the last answer.
pub async fn wait_for_readiness(app: &TestApp, want: u16, secs: u64) -> (u16, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (status, body) = app.get_json("/health/ready").await;
        if status == want || tokio::time::Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
