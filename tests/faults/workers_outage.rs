//! Book sync workers through a store outage (issue 16): one `study-mode-api worker` whose
//! Postgres or Redis goes through a [`FaultProxy`] is cut for a few seconds mid-sync. What a
//! user sees afterwards: the job completed, every lesson synced and in the table of contents,
//! the worker ready again by itself (no restart of the process), and its log not spinning.
//! The command line that starts and reads the job, and the `serve` replica that answers the
//! book, reach Postgres directly.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_github::FakeGithub;
use crate::harness::client::Endpoint;
use crate::harness::proxy::FaultProxy;
use crate::harness::service::{Service, pairs};
use crate::harness::stores::{fresh_postgres, redis_url, target_of};
use crate::harness::worker::{Worker, lesson, show_job, start_sync, wait_job};

/// How long the store stays cut.
const OUTAGE: Duration = Duration::from_secs(4);
/// How long the job may take from the cut's end to `completed`.
const RECOVERY: Duration = Duration::from_secs(90);
/// Lessons synced before the cut.
const SYNCED_BEFORE_CUT: u64 = 4;
/// Most "restarting it" lines a worker may log for one outage before it counts as spinning.
const MAX_RESTART_LINES: usize = 50;

/// Serves a book of `n` lessons under a part of its own (progress records live in the shared
/// Redis, keyed by lesson path: a fresh part never reads another run's); returns their paths.
fn serve_book(fake: &FakeGithub, n: usize) -> Vec<String> {
    let part = format!(
        "01-Outage-{}",
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    );
    let text =
        "A worker takes a task, runs it, and says so before it takes the next one. ".repeat(4);
    (1..=n)
        .map(|i| {
            let chapter = if i % 2 == 0 { "01-Basics" } else { "02-More" };
            let path = format!("{part}/{chapter}/{i:02}-lesson");
            fake.put(
                &format!("{path}.md"),
                &format!("---\ntitle: Lesson {i}\n---\n\n{text}\n\n## Steps\n\n{text}\n"),
            );
            path
        })
        .collect()
}

/// What the command line and the `serve` replica get: the database itself, the fake GitHub, no
/// worker inside the process, no quota in the way.
fn direct_env(database: &str, fake: &FakeGithub) -> Vec<(String, String)> {
    pairs(&[
        ("APP_ENV", "development"),
        ("HOST", "127.0.0.1"),
        ("DATABASE_URL", database),
        ("GITHUB_RAW_BASE_URL", &fake.base_url()),
        ("GITHUB_API_BASE_URL", &fake.api_base_url()),
        ("WORKER_IN_PROCESS", "false"),
        ("SYNC_ON_START", "false"),
        ("OPENAI_API_KEY", "sk-fault-matrix"),
        ("RATE_LIMIT_CHAT_FREE", "unlimited"),
        ("TOKEN_BUDGET_FREE", "unlimited"),
        ("RATE_LIMIT_API_FREE", "unlimited"),
        ("PREAUTH_RATE_LIMIT", "unlimited"),
        ("JOB_MAX_ATTEMPTS", "5"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "pretty"),
        ("NO_COLOR", "1"),
    ])
}

/// The worker's variables on top of `direct`: fast heartbeats, polls and retries, two tasks
/// at a time, a short wait for a pooled connection.
fn worker_env(direct: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = direct.to_vec();
    env.extend(pairs(&[
        ("WORKER_CONCURRENCY", "2"),
        ("JOB_HEARTBEAT_SECS", "1"),
        ("JOB_MISSED_HEARTBEATS", "2"),
        ("JOB_BACKOFF_MIN_MS", "100"),
        ("JOB_BACKOFF_MAX_SECS", "2"),
        ("DB_ACQUIRE_TIMEOUT_SECS", "2"),
        ("SHUTDOWN_GRACE_SECS", "5"),
    ]));
    env.extend(pairs(extra));
    env
}

/// Polls the job until `at_least` lessons are synced; the job then.
async fn synced_at_least(env: &[(String, String)], id: &str, at_least: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = show_job(env, id).await;
        if job["counts"]["synced"].as_u64().unwrap_or(0) >= at_least {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "{at_least} lessons not synced within 30 s: {job:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How often the worker's log says `needle`.
fn count(worker: &Worker, needle: &str) -> usize {
    worker.log().lines().filter(|l| l.contains(needle)).count()
}

/// The restart figures of a worker's log, for assertion messages.
fn restart_figures(worker: &Worker) -> String {
    format!(
        "restarting it: {}, pausing it: {}, run ended with an error: {}, progress degraded: {}",
        count(worker, "restarting it"),
        count(worker, "pausing it"),
        count(worker, "run ended with an error"),
        count(worker, "progress tracking degraded"),
    )
}

/// The job ended in time, or a failure with the job and the worker's log.
fn ended(result: Result<Value, Value>, worker: &Worker) -> Value {
    result.unwrap_or_else(|job| {
        panic!(
            "the job did not end within {RECOVERY:?} of the outage: {job:#}\n{}\n--- worker log:\n{}",
            restart_figures(worker),
            worker.log_tail(60)
        )
    })
}

/// Every lesson synced, none dead, the job completed.
fn assert_all_synced(job: &Value, paths: &[String], worker: &Worker) {
    let context = || {
        format!(
            "{job:#}\n{}\n{}",
            restart_figures(worker),
            worker.log_tail(40)
        )
    };
    assert_eq!(job["status"], "completed", "{}", context());
    assert_eq!(job["counts"]["synced"], paths.len(), "{}", context());
    assert_eq!(job["counts"]["dead"], 0, "{}", context());
    for path in paths {
        let row = lesson(job, path).unwrap_or_else(|| panic!("{path} missing: {}", context()));
        assert_eq!(row["outcome"], "synced", "{path}: {}", context());
    }
}

/// Every lesson of `paths` in `GET /v1/book/toc` of `reader`.
async fn assert_in_toc(reader: &Endpoint, paths: &[String]) {
    let reply = reader
        .get("outage-reader", "/v1/book/toc", Duration::from_secs(10))
        .await;
    assert_eq!(reply.status, Some(200), "{reply:?}");
    let listed: Vec<&str> = reply.body["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["chapters"].as_array().into_iter().flatten())
        .flat_map(|c| c["lessons"].as_array().into_iter().flatten())
        .filter_map(|l| l["path"].as_str())
        .collect();
    for path in paths {
        assert!(
            listed.contains(&path.as_str()),
            "{path} not in the table of contents: {:#}",
            reply.body
        );
    }
}

/// `overall_status` of `path`'s progress as `reader` answers it.
async fn overall(reader: &Endpoint, path: &str) -> String {
    let reply = reader
        .get(
            "outage-reader",
            &format!("/v1/lessons/progress?path={path}"),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(reply.status, Some(200), "progress of {path}: {reply:?}");
    reply.body["overall_status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Polls until `path`'s progress reads `wanted` (within `within`); the last answer.
async fn overall_becomes(reader: &Endpoint, path: &str, wanted: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let now = overall(reader, path).await;
        if now == wanted || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The job was still running at a moment of the outage (else the row tested nothing).
fn assert_mid_sync(then: &Value) {
    assert_eq!(
        then["status"], "running",
        "the sync was not running during the outage; slow the fake down: {then:#}"
    );
}

/// Tries of every lesson of `job`, summed.
fn tries(job: &Value) -> u64 {
    job["lessons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["attempts"].as_u64())
        .sum()
}

/// A lesson the job reports synced.
fn a_synced_lesson(job: &Value) -> String {
    job["lessons"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["outcome"] == "synced")
        .and_then(|l| l["path"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no synced lesson: {job:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_cut_mid_sync_ends_with_every_lesson_synced_and_the_worker_ready() {
    // Arrange: the worker's database link goes through the proxy; 300 ms per lesson file
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&database)).await;
    let fake = FakeGithub::start().await;
    let paths = serve_book(&fake, 20);
    fake.slow(Duration::from_millis(300));
    let direct = direct_env(&database, &fake);
    let worker = Worker::start(
        "pg-cut",
        &worker_env(&direct, &[("DATABASE_URL", &proxy.url_for(&database))]),
    )
    .await;
    let reader = Service::start("reader", direct.clone()).await;

    // Act
    let id = start_sync(&direct).await;
    let before = synced_at_least(&direct, &id, SYNCED_BEFORE_CUT).await;
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    let at_restore = show_job(&direct, &id).await;
    proxy.restore();
    let restored = Instant::now();
    let job = ended(wait_job(&direct, &id, RECOVERY).await, &worker);
    let recovered_in = restored.elapsed();

    // Assert
    let figures = restart_figures(&worker);
    eprintln!(
        "== workers outage postgres-cut: synced {} at the cut, {} at the restore; completed \
         {recovered_in:?} after the restore, {} tries in all; {figures}",
        before["counts"]["synced"],
        at_restore["counts"]["synced"],
        tries(&job)
    );
    assert_mid_sync(&at_restore);
    assert_all_synced(&job, &paths, &worker);
    assert_in_toc(&reader.endpoint(), &paths).await;
    assert_eq!(
        worker.ready_status().await,
        Some(200),
        "ready again without a restart; {figures}\n{}",
        worker.log_tail(40)
    );
    assert!(
        count(&worker, "restarting it") < MAX_RESTART_LINES,
        "the worker spun through the outage; {figures}\n{}",
        worker.log_tail(40)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_cut_mid_sync_degrades_progress_reads_and_ends_with_every_lesson_synced() {
    // Arrange: the worker's and the replica's Redis links go through the proxy (the shared
    // Redis is never flushed; this run's progress records are under a part of its own)
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let Some(redis) = redis_url() else { return };
    let proxy = FaultProxy::start(target_of(&redis)).await;
    let fake = FakeGithub::start().await;
    let paths = serve_book(&fake, 20);
    fake.slow(Duration::from_millis(300));
    let direct = direct_env(&database, &fake);
    let via_proxy = proxy.url_for(&redis);
    let worker = Worker::start(
        "redis-cut",
        &worker_env(&direct, &[("REDIS_URL", &via_proxy)]),
    )
    .await;
    let mut reader_env = direct.clone();
    reader_env.extend(pairs(&[("REDIS_URL", &via_proxy)]));
    let replica = Service::start("reader", reader_env).await;
    let reader = replica.endpoint();

    // Act
    let id = start_sync(&direct).await;
    let before = synced_at_least(&direct, &id, SYNCED_BEFORE_CUT).await;
    let done = a_synced_lesson(&before);
    let read_before = overall_becomes(&reader, &done, "COMPLETED", Duration::from_secs(5)).await;
    let cut_at = Instant::now();
    proxy.cut();
    let at_cut = show_job(&direct, &id).await;
    let read_during = overall_becomes(&reader, &done, "PENDING", Duration::from_secs(3)).await;
    let ready_during = worker.ready_status().await;
    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;
    let at_restore = show_job(&direct, &id).await;
    proxy.restore();
    let job = ended(wait_job(&direct, &id, RECOVERY).await, &worker);
    let read_after = overall_becomes(&reader, &done, "COMPLETED", Duration::from_secs(10)).await;

    // Assert
    let figures = restart_figures(&worker);
    eprintln!(
        "== workers outage redis-cut: synced {} at the cut, {} at the restore; {done} read \
         {read_before} / {read_during} / {read_after} (before / during / after); {figures}",
        at_cut["counts"]["synced"], at_restore["counts"]["synced"],
    );
    // Postgres stays up: the sync goes on through the cut, and may end before it does.
    assert_mid_sync(&at_cut);
    assert_eq!(read_before, "COMPLETED", "{done} before the cut");
    assert_eq!(read_during, "PENDING", "{done} while Redis is cut");
    assert_eq!(read_after, "COMPLETED", "{done} once Redis is back");
    assert_eq!(ready_during, Some(200), "worker ready while Redis is cut");
    assert_all_synced(&job, &paths, &worker);
    assert_in_toc(&reader, &paths).await;
    assert_eq!(worker.ready_status().await, Some(200), "{figures}");
    assert!(
        count(&worker, "restarting it") < MAX_RESTART_LINES,
        "the worker spun through the outage; {figures}\n{}",
        worker.log_tail(40)
    );
}
