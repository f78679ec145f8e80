//! Child processes under test: the release service binary (embedded defaults or Postgres +
//! Redis) and the bare poem "hello" baseline; their RSS and CPU from /proc; the fd limit; fresh
//! Postgres databases.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::error::HarnessError;
use crate::generator::RequestSpec;
use crate::generator::conn::fetch;

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

/// Raises the soft file-descriptor limit to the hard one; children started afterwards inherit
/// it. Returns the new soft limit.
///
/// # Errors
/// When the limit cannot be read or set.
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass by valid pointer.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) };
    if got != 0 {
        return Err(std::io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}

/// Starts the release service binary with `env` on top of PORT, a SQLite file in a temporary
/// folder (unless `env` sets `DATABASE_URL`) and `LOG_LEVEL=warn`, and waits for readiness.
///
/// # Errors
/// When the binary cannot start, exits, or is not ready within 30 s.
pub async fn start_service(env: &[(String, String)]) -> Result<ChildServer, HarnessError> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut vars: Vec<(String, String)> = vec![
        ("PORT".into(), port.to_string()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/load.sqlite?mode=rwc", dir.path().display()),
        ),
        ("LOG_LEVEL".into(), "warn".into()),
    ];
    vars.extend(env.iter().cloned());
    let started = Instant::now();
    // LOAD_SERVICE_BIN swaps in another build of the service, e.g. the profiling one
    // (`cargo build --profile profiling` → target/profiling/study-mode-api) to run under perf.
    let binary = std::env::var("LOAD_SERVICE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_study-mode-api").to_string());
    let child = tokio::process::Command::new(binary)
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
    wait_ready(&mut server, "/health/ready", started).await?;
    eprintln!(
        "load: service pid {} ready on {addr} after {} ms",
        server.pid, server.ready_ms
    );
    Ok(server)
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
    wait_ready(&mut server, "/hello", started).await?;
    Ok(server)
}

async fn wait_ready(
    server: &mut ChildServer,
    path: &str,
    started: Instant,
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

/// A `kB` field (`VmRSS`, `VmHWM`) of /proc/PID/status.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU seconds of a process (/proc/PID/stat fields 14 and 15).
#[allow(unsafe_code)]
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the numeric fields follow its closing parenthesis.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) / ticks)
}

/// Open file descriptors of a process (entries of /proc/PID/fd).
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Soft `Max open files` of a process, from /proc/PID/limits.
pub fn fd_limit(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Resets the peak RSS (`VmHWM`) of a process so the next step reads its own peak.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
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
