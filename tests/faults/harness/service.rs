//! The service as a child process (so SIGTERM, SIGKILL and restarts are real): a free port, a
//! log file for diagnostics, `/health` polled until it answers, killed when dropped.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::client::Endpoint;
use super::model::FakeModel;

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The lesson every turn studies (from the sample lessons).
pub const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";

/// A service child process.
pub struct Service {
    /// Name in diagnostics (`a`, `b`, …).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<tokio::process::Child>,
    log: PathBuf,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Variables every faulted service gets: loopback, the sample lessons, the fake model, no
/// quotas in the way (a Redis-backed quota is shared across runs), short turns, quiet drivers.
pub fn base_env(model: &FakeModel) -> Vec<(String, String)> {
    pairs(&[
        ("APP_ENV", "development"),
        ("HOST", "127.0.0.1"),
        (
            "LESSONS_DIR",
            &format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR")),
        ),
        ("OPENAI_API_KEY", "sk-fault-matrix"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "30"),
        ("RATE_LIMIT_CHAT_FREE", "unlimited"),
        ("TOKEN_BUDGET_FREE", "unlimited"),
        ("RATE_LIMIT_API_FREE", "unlimited"),
        ("PREAUTH_RATE_LIMIT", "unlimited"),
        ("SHUTDOWN_GRACE_SECS", "5"),
        // A background sync of the book would write beside the audited operations.
        ("SYNC_ON_START", "false"),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "pretty"),
        ("NO_COLOR", "1"),
    ])
}

/// `(name, value)` pairs as owned strings.
pub fn pairs(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Service {
    /// Starts the service binary with `env` (later pairs win) on a free port and waits until
    /// `/health` answers 200.
    pub async fn start(name: &str, env: Vec<(String, String)>) -> Self {
        super::crypto();
        let dir = tempfile::tempdir().expect("service folder");
        let port = free_port();
        let mut vars = vec![("PORT".to_string(), port.to_string())];
        vars.extend(env);
        let mut service = Self {
            name: name.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            env: vars,
            child: None,
            log: dir.path().join("service.log"),
            dir,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        };
        service.spawn().await;
        service
    }

    /// A client's view of this replica.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(&self.name, self.addr)
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("service log");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            // Its own folder: no `.env` of the checkout is read.
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("service binary starts");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "service {} exited at start ({status}); log:\n{}",
                    self.name,
                    self.log_tail(60)
                );
            }
            let health = self
                .client
                .get(self.url("/health"))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if health.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "service {} not healthy within {START_TIMEOUT:?}; log:\n{}",
            self.name,
            self.log_tail(60)
        );
    }

    /// Sends a signal to the process (nothing when it has exited).
    fn signal(&self, signal: libc::c_int) {
        send_signal(self.child.as_ref(), signal);
    }

    /// SIGTERM: the orderly stop an orchestrator asks for.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// SIGKILL: the process dies at once.
    pub fn sigkill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits up to `within` for the process to exit; `None` while it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        wait_for_exit(self.child.as_mut(), within).await
    }

    /// Starts the process again, same variables and port (after it exited or was killed).
    pub async fn restart(&mut self) {
        if let Some(mut old) = self.child.take() {
            let _ = old.kill().await;
        }
        self.spawn().await;
    }

    /// The last `lines` lines of its log (both runs when restarted).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The last `lines` warnings and errors of its log, each cut at 400 characters.
    pub fn log_problems(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let hits: Vec<String> = text
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .map(|l| l.chars().take(400).collect())
            .collect();
        hits[hits.len().saturating_sub(lines)..].join("\n")
    }
}

/// Sends `signal` to a child process (nothing when it has exited or was never started).
pub fn send_signal(child: Option<&tokio::process::Child>, signal: libc::c_int) {
    if let Some(pid) = child.and_then(tokio::process::Child::id) {
        let pid = libc::pid_t::try_from(pid).expect("pid fits");
        // SAFETY: kill(2) with a pid of our own child and a valid signal number.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Waits up to `within` for a child process to exit; `None` while it still runs.
pub async fn wait_for_exit(
    child: Option<&mut tokio::process::Child>,
    within: Duration,
) -> Option<ExitStatus> {
    tokio::time::timeout(within, child?.wait())
        .await
        .ok()
        .and_then(Result::ok)
}
