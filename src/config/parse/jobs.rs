//! `JOB_*`, `WORKER_*`, `SYNC_INTERVAL_SECS`, `PROGRESS_TTL_SECS`, `GITHUB_API_BASE_URL`,
//! `EMBEDDINGS_MODEL`.

use std::time::Duration;

use super::super::RawEnv;
use super::super::jobs::JobsConfig;
use super::{Collector, sections};

pub(super) fn jobs(c: &mut Collector, raw: &RawEnv, prod: bool) -> JobsConfig {
    let backoff_min = Duration::from_millis(c.number(
        "JOB_BACKOFF_MIN_MS",
        &raw.job_backoff_min_ms,
        1_000u64,
        (10, 600_000),
    ));
    let backoff_max = c.secs(
        "JOB_BACKOFF_MAX_SECS",
        &raw.job_backoff_max_secs,
        60,
        (1, 3_600),
    );
    if backoff_max < backoff_min {
        c.push(
            "JOB_BACKOFF_MAX_SECS",
            "must not be shorter than JOB_BACKOFF_MIN_MS",
        );
    }
    let sync_interval = c.number(
        "SYNC_INTERVAL_SECS",
        &raw.sync_interval_secs,
        0u64,
        (0, 604_800),
    );
    if sync_interval != 0 && sync_interval < 60 {
        c.push("SYNC_INTERVAL_SECS", "0 (off) or at least 60");
    }
    let model = raw
        .embeddings_model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    if let Some(m) = &model
        && (m.len() > 100 || !m.chars().all(|ch| ch.is_ascii_graphic()))
    {
        c.push("EMBEDDINGS_MODEL", "at most 100 visible ASCII characters");
    }
    JobsConfig {
        max_attempts: c.number("JOB_MAX_ATTEMPTS", &raw.job_max_attempts, 5u32, (1, 100)),
        heartbeat: c.secs("JOB_HEARTBEAT_SECS", &raw.job_heartbeat_secs, 5, (1, 300)),
        missed_heartbeats: c.number(
            "JOB_MISSED_HEARTBEATS",
            &raw.job_missed_heartbeats,
            3u32,
            (1, 100),
        ),
        try_timeout: c.secs("JOB_TIMEOUT_SECS", &raw.job_timeout_secs, 120, (1, 3_600)),
        backoff_min,
        backoff_max,
        poll_interval: Duration::from_millis(c.number(
            "JOB_POLL_INTERVAL_MS",
            &raw.job_poll_interval_ms,
            500u64,
            (10, 60_000),
        )),
        concurrency: c.number(
            "WORKER_CONCURRENCY",
            &raw.worker_concurrency,
            4usize,
            (1, 256),
        ),
        in_process: c.boolean("WORKER_IN_PROCESS", &raw.worker_in_process, !prod),
        sync_on_start: c.boolean("SYNC_ON_START", &raw.sync_on_start, !prod),
        worker_port: c.number("WORKER_PORT", &raw.worker_port, 8001u16, (0, u16::MAX)),
        sync_interval: (sync_interval > 0).then(|| Duration::from_secs(sync_interval)),
        retention: Duration::from_secs(
            86_400
                * c.number(
                    "JOB_RETENTION_DAYS",
                    &raw.job_retention_days,
                    30u64,
                    (1, 3_650),
                ),
        ),
        progress_ttl: c.secs(
            "PROGRESS_TTL_SECS",
            &raw.progress_ttl_secs,
            86_400,
            (60, 2_592_000),
        ),
        github_api_base_url: sections::http_url(
            c,
            "GITHUB_API_BASE_URL",
            &raw.github_api_base_url,
            "https://api.github.com",
        ),
        embeddings_model: model,
    }
}
