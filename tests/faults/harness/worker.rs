//! `study-mode-api worker` as a child process (so SIGTERM and SIGKILL are real): its own health
//! port, a log file, `/health/ready` polled until it answers 200, killed when dropped; and the
//! command line (`book sync`, `jobs show --json`) run the way an operator runs it.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::service::free_port;

/// How long a worker may take to become ready before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A worker child process.
pub struct Worker {
    /// Name in diagnostics (`a`, `b`, …).
    pub name: String,
    /// Its health port (`WORKER_PORT`).
    pub port: u16,
    child: Option<tokio::process::Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// The binary with `env` only (plus `PATH`), in an empty folder so no `.env` is read.
fn command(env: &[(String, String)], dir: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

impl Worker {
    /// Starts `study-mode-api worker` with `env` (later pairs win) on a free health port and
    /// waits until `/health/ready` answers 200.
    pub async fn start(name: &str, env: &[(String, String)]) -> Self {
        super::crypto();
        let dir = tempfile::tempdir().expect("worker folder");
        let port = free_port();
        let log = dir.path().join("worker.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("worker log");
        let mut vars = env.to_vec();
        vars.push(("WORKER_PORT".to_string(), port.to_string()));
        let child = command(&vars, dir.path())
            .arg("worker")
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("worker binary starts");
        let mut worker = Self {
            name: name.to_string(),
            port,
            child: Some(child),
            log,
            _dir: dir,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
        };
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if let Some(status) = worker.try_exit() {
                panic!(
                    "worker {name} exited at start ({status}); log:\n{}",
                    worker.log_tail(60)
                );
            }
            if worker.ready_status().await == Some(200) {
                return worker;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "worker {name} not ready within {READY_TIMEOUT:?}; log:\n{}",
            worker.log_tail(60)
        );
    }

    /// The status `/health/ready` answers; `None` when nothing answers (port closed).
    pub async fn ready_status(&self) -> Option<u16> {
        self.client
            .get(format!("http://127.0.0.1:{}/health/ready", self.port))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .send()
            .await
            .expect("worker /metrics answers");
        assert_eq!(response.status(), 200, "worker /metrics");
        response.text().await.expect("worker /metrics text")
    }

    fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn signal(&self, signal: libc::c_int) {
        super::service::send_signal(self.child.as_ref(), signal);
    }

    /// SIGTERM: the orderly stop an orchestrator asks for.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// SIGKILL: the process dies at once, holding whatever it was running.
    pub fn sigkill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits up to `within` for the process to exit; `None` while it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        super::service::wait_for_exit(self.child.as_mut(), within).await
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// What a command printed and how it ended.
pub struct CliRun {
    /// Exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `study-mode-api ARGS` with `env` (and `PATH`) in an empty folder, off a terminal.
pub async fn cli(args: &[&str], env: &[(String, String)]) -> CliRun {
    let dir = tempfile::tempdir().expect("cli folder");
    let out = command(env, dir.path())
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `book sync` without `--wait`: the job id it prints.
pub async fn start_sync(env: &[(String, String)]) -> String {
    let run = cli(&["book", "sync"], env).await;
    assert_eq!(
        run.code,
        Some(0),
        "book sync failed: {}\n{}",
        run.stdout,
        run.stderr
    );
    let id = run.stdout.trim().to_string();
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace),
        "book sync printed no job id: {:?}\n{}",
        run.stdout,
        run.stderr
    );
    id
}

/// `jobs show ID --json`.
pub async fn show_job(env: &[(String, String)], id: &str) -> Value {
    let run = cli(&["jobs", "show", id, "--json"], env).await;
    assert_eq!(run.code, Some(0), "jobs show failed: {}", run.stderr);
    serde_json::from_str(run.stdout.trim()).expect("jobs show --json prints JSON")
}

/// Polls `jobs show ID --json` until the job is `completed` or `failed`; `Err` with the last
/// view when `within` passes first.
pub async fn wait_job(
    env: &[(String, String)],
    id: &str,
    within: Duration,
) -> Result<Value, Value> {
    let deadline = Instant::now() + within;
    loop {
        let job = show_job(env, id).await;
        if matches!(job["status"].as_str(), Some("completed" | "failed")) {
            return Ok(job);
        }
        if Instant::now() >= deadline {
            return Err(job);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The lesson of `job` at `path` (its outcome, attempts, error).
pub fn lesson<'a>(job: &'a Value, path: &str) -> Option<&'a Value> {
    job["lessons"]
        .as_array()?
        .iter()
        .find(|l| l["path"].as_str() == Some(path))
}
