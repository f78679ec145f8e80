//! Child processes under test: the release service binary (embedded defaults or Postgres +
//! Redis; one process, or several sharing a port through `SO_REUSEPORT`) and the bare poem
//! "hello" baseline; fresh Postgres databases. What /proc tells about them is in [`procfs`].

mod procfs;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::error::HarnessError;
use crate::generator::RequestSpec;
use crate::generator::conn::fetch;

pub use procfs::{
    cpu_secs, fd_limit, listens_on, open_fds, raise_fd_limit, reset_peak, status_kb, sum,
};

/// How long a started child may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where load goes: a loopback address and its `Host` header.
#[derive(Debug, Clone)]
pub struct Target {
    /// Socket address of the service.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
}

impl Target {
    /// Parses `http://IP:PORT`; only IPv4 loopback addresses are accepted (load never leaves
    /// the machine).
    ///
    /// # Errors
    /// A URL that is not plain HTTP to a loopback IP and port.
    pub fn from_url(url: &str) -> Result<Self, HarnessError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| HarnessError::Options(format!("--url {url:?}: {e}")))?;
        let addr = parsed
            .socket_addrs(|| Some(80))
            .ok()
            .and_then(|a| a.into_iter().find(|a| a.is_ipv4() && a.ip().is_loopback()))
            .filter(|_| parsed.scheme() == "http")
            .ok_or_else(|| {
                HarnessError::Options(format!(
                    "--url {url:?} must be http:// to an IPv4 loopback address"
                ))
            })?;
        Ok(Self {
            addr,
            host: addr.to_string(),
        })
    }

    fn local(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
        }
    }
}

/// A child process serving HTTP; killed when dropped.
pub struct ChildServer {
    child: tokio::process::Child,
    /// Process id, for /proc.
    pub pid: u32,
    /// Where it listens.
    pub target: Target,
    /// Milliseconds from spawn to the first 200 of its readiness path.
    pub ready_ms: u64,
    _dir: Option<tempfile::TempDir>,
}

impl ChildServer {
    /// Stops the child and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Starts `count` copies of the release service binary with `env` on top of PORT (one port for
/// all), a SQLite file in a temporary folder (unless `env` sets `DATABASE_URL`; only sensible
/// with one process) and `LOG_LEVEL=warn`, and waits for each to be ready before starting the
/// next. With `count > 1` every copy gets `REUSE_PORT=true` and the kernel spreads connections
/// over them; a copy counts as ready once it listens on the port itself (the service binds
/// only after its start-up work) and the port answers its readiness path.
///
/// # Errors
/// When a copy cannot start, exits, or is not ready within 30 s.
pub async fn start_services(
    env: &[(String, String)],
    count: usize,
) -> Result<Vec<ChildServer>, HarnessError> {
    let port = free_port()?;
    let mut shared: Vec<(String, String)> = vec![("PORT".into(), port.to_string())];
    if count > 1 {
        shared.push(("REUSE_PORT".into(), "true".into()));
    }
    let count = count.max(1);
    // LOAD_SERVICE_BIN swaps in another build of the service, e.g. the profiling one
    // (`cargo build --profile profiling` → target/profiling/study-mode-api) to run under perf.
    let binary = std::env::var("LOAD_SERVICE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_study-mode-api").to_string());
    let mut servers = Vec::with_capacity(count);
    for index in 0..count {
        let dir = tempfile::tempdir()?;
        let mut vars = shared.clone();
        vars.extend([
            (
                "DATABASE_URL".into(),
                format!("sqlite://{}/load.sqlite?mode=rwc", dir.path().display()),
            ),
            ("LOG_LEVEL".into(), "warn".into()),
        ]);
        vars.extend(env.iter().cloned());
        let started = Instant::now();
        let child = tokio::process::Command::new(&binary)
            .env_clear()
            .envs(vars)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HarnessError::child("service", format!("cannot start: {e}")))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = ChildServer {
            pid: child.id().unwrap_or_default(),
            child,
            target: Target::local(addr),
            ready_ms: 0,
            _dir: Some(dir),
        };
        let own_port = (count > 1).then_some(port);
        wait_ready(&mut server, "/health/ready", started, own_port).await?;
        eprintln!(
            "load: service {}/{count} pid {} ready on {addr} after {} ms",
            index + 1,
            server.pid,
            server.ready_ms
        );
        servers.push(server);
    }
    Ok(servers)
}

/// Starts this bench binary as the bare poem "hello" server (`--hello-server`).
///
/// # Errors
/// When it cannot start or does not print its address.
pub async fn start_hello() -> Result<ChildServer, HarnessError> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--hello-server")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HarnessError::child("hello server", format!("cannot start: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| HarnessError::child("hello server", "no stdout"))?;
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut line);
    tokio::time::timeout(READY_TIMEOUT, read)
        .await
        .map_err(|_| HarnessError::child("hello server", "printed no address"))??;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| HarnessError::child("hello server", format!("unexpected {line:?}")))?;
    let mut server = ChildServer {
        pid: child.id().unwrap_or_default(),
        child,
        target: Target::local(addr),
        ready_ms: 0,
        _dir: None,
    };
    wait_ready(&mut server, "/hello", started, None).await?;
    Ok(server)
}

/// Polls `path` until it answers 200; with `own_port`, only once the child itself listens on
/// that port (siblings sharing it through `SO_REUSEPORT` may answer first).
async fn wait_ready(
    server: &mut ChildServer,
    path: &str,
    started: Instant,
    own_port: Option<u16>,
) -> Result<(), HarnessError> {
    let spec = RequestSpec {
        method: "GET".into(),
        path: path.into(),
        body: None,
        stream: false,
    };
    while started.elapsed() < READY_TIMEOUT {
        if let Some(status) = server.child.try_wait()? {
            return Err(HarnessError::child(
                "service",
                format!("exited early: {status}"),
            ));
        }
        let target = &server.target;
        if own_port.is_some_and(|port| !listens_on(server.pid, port)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if let Ok((200, _)) = fetch(
            target.addr,
            &spec,
            &target.host,
            &[],
            Duration::from_secs(1),
        )
        .await
        {
            server.ready_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(HarnessError::child("service", "not ready within 30 s"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A fresh Postgres database created next to an admin URL; dropped with [`Database::drop_db`].
pub struct Database {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl Database {
    /// Creates `loadbench_<uuid>`.
    ///
    /// # Errors
    /// When Postgres is unreachable or refuses.
    pub async fn create(admin: &str) -> Result<Self, HarnessError> {
        use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
        let mut conn = PgConnection::connect(admin)
            .await
            .map_err(|e| HarnessError::Database(format!("connect to {admin}: {e}")))?;
        let name = format!("loadbench_{}", uuid::Uuid::new_v4().simple());
        conn.execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .map_err(|e| HarnessError::Database(format!("create database: {e}")))?;
        let mut url = url::Url::parse(admin)
            .map_err(|e| HarnessError::Database(format!("admin URL: {e}")))?;
        url.set_path(&name);
        Ok(Self {
            admin: admin.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database (best effort: a leftover only costs disk).
    pub async fn drop_db(self) {
        use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
        let dropped = async {
            let mut conn = PgConnection::connect(&self.admin).await?;
            conn.execute(AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
                self.name
            )))
            .await
        };
        if let Err(e) = dropped.await {
            eprintln!("load: could not drop database {}: {e}", self.name);
        }
    }
}
