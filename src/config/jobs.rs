//! The book sync: its job queue, workers, progress records and schedule.

use std::time::Duration;

/// Settings of the book sync (issue 16).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Tries of a task before it is dead (`JOB_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// How often a worker says it is alive (`JOB_HEARTBEAT_SECS`).
    pub heartbeat: Duration,
    /// Heartbeats a worker may miss before its tasks go to others (`JOB_MISSED_HEARTBEATS`).
    pub missed_heartbeats: u32,
    /// Longest one try of a task may run (`JOB_TIMEOUT_SECS`).
    pub try_timeout: Duration,
    /// Shortest wait between two tries (`JOB_BACKOFF_MIN_MS`).
    pub backoff_min: Duration,
    /// Longest wait between two tries (`JOB_BACKOFF_MAX_SECS`).
    pub backoff_max: Duration,
    /// How often an idle worker looks for tasks (`JOB_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// Tasks one worker process runs at once (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Whether `serve` also runs a worker (`WORKER_IN_PROCESS`).
    pub in_process: bool,
    /// Whether `serve` syncs the book when it starts with an empty index (`SYNC_ON_START`).
    pub sync_on_start: bool,
    /// Port of a `worker` process's `/health` and `/health/ready` (`WORKER_PORT`; 0 = any).
    pub worker_port: u16,
    /// Re-sync of the whole book this often, when set (`SYNC_INTERVAL_SECS`).
    pub sync_interval: Option<Duration>,
    /// How long ended sync runs and tasks are kept (`JOB_RETENTION_DAYS`).
    pub retention: Duration,
    /// Lifetime of a progress record after its last write (`PROGRESS_TTL_SECS`).
    pub progress_ttl: Duration,
    /// GitHub's API, for listing the book (`GITHUB_API_BASE_URL`).
    pub github_api_base_url: String,
    /// Embeddings model on the OpenAI-compatible provider (`EMBEDDINGS_MODEL`); unset means
    /// the full-text index only.
    pub embeddings_model: Option<String>,
}

impl JobsConfig {
    /// The settings as `NAME=value` pairs (`check-config`).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            ("JOB_MAX_ATTEMPTS", self.max_attempts.to_string()),
            ("JOB_HEARTBEAT_SECS", self.heartbeat.as_secs().to_string()),
            ("JOB_MISSED_HEARTBEATS", self.missed_heartbeats.to_string()),
            ("JOB_TIMEOUT_SECS", self.try_timeout.as_secs().to_string()),
            (
                "JOB_BACKOFF_MIN_MS",
                self.backoff_min.as_millis().to_string(),
            ),
            (
                "JOB_BACKOFF_MAX_SECS",
                self.backoff_max.as_secs().to_string(),
            ),
            (
                "JOB_POLL_INTERVAL_MS",
                self.poll_interval.as_millis().to_string(),
            ),
            ("WORKER_CONCURRENCY", self.concurrency.to_string()),
            ("WORKER_IN_PROCESS", self.in_process.to_string()),
            ("SYNC_ON_START", self.sync_on_start.to_string()),
            ("WORKER_PORT", self.worker_port.to_string()),
            (
                "SYNC_INTERVAL_SECS",
                self.sync_interval
                    .map_or("0 (off)".into(), |d| d.as_secs().to_string()),
            ),
            (
                "JOB_RETENTION_DAYS",
                (self.retention.as_secs() / 86_400).to_string(),
            ),
            ("PROGRESS_TTL_SECS", self.progress_ttl.as_secs().to_string()),
            ("GITHUB_API_BASE_URL", self.github_api_base_url.clone()),
            (
                "EMBEDDINGS_MODEL",
                self.embeddings_model
                    .clone()
                    .unwrap_or_else(|| "(unset: full-text index only)".into()),
            ),
        ]
    }
}
