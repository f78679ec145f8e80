//! Book sync workers as processes (issue 16): `study-mode-api worker` children on a fresh
//! Postgres database, a slow fake GitHub so tasks are mid-flight when a worker is killed or
//! stopped, and what a user sees — `jobs show ID --json` and the fake's download counts.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_github::FakeGithub;
use crate::harness::service::pairs;
use crate::harness::stores::fresh_postgres;
use crate::harness::worker::{Worker, cli, lesson, show_job, start_sync, wait_job};

/// Text long enough to be a teaching step of its own.
fn filler() -> String {
    "An agent observes, decides and acts, again and again, until its goal is met. ".repeat(4)
}

/// Serves a book of `n` lessons (two chapters) on `fake`; returns their paths (no `.md`).
fn serve_book(fake: &FakeGithub, n: usize) -> Vec<String> {
    let f = filler();
    (1..=n)
        .map(|i| {
            let chapter = if i % 2 == 0 { "01-Basics" } else { "02-More" };
            let path = format!("01-Intro/{chapter}/{i:02}-lesson");
            fake.put(
                &format!("{path}.md"),
                &format!("---\ntitle: Lesson {i}\n---\n\n{f}\n\n## Steps\n\n{f}\n"),
            );
            path
        })
        .collect()
}

/// What every process of a row gets: the database, the fake GitHub, fast heartbeats and polls,
/// no worker inside the command line.
fn env_for(database: &str, fake: &FakeGithub, grace_secs: u64) -> Vec<(String, String)> {
    pairs(&[
        ("APP_ENV", "development"),
        ("HOST", "127.0.0.1"),
        ("DATABASE_URL", database),
        ("GITHUB_RAW_BASE_URL", &fake.base_url()),
        ("GITHUB_API_BASE_URL", &fake.api_base_url()),
        ("WORKER_IN_PROCESS", "false"),
        ("SYNC_ON_START", "false"),
        ("WORKER_CONCURRENCY", "2"),
        ("JOB_HEARTBEAT_SECS", "1"),
        ("JOB_MISSED_HEARTBEATS", "2"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("JOB_BACKOFF_MIN_MS", "10"),
        ("JOB_BACKOFF_MAX_SECS", "1"),
        ("SHUTDOWN_GRACE_SECS", &grace_secs.to_string()),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "pretty"),
        ("NO_COLOR", "1"),
    ])
}

/// Waits until some lesson file was requested (a lesson task is running); returns those paths.
async fn lesson_in_flight(fake: &FakeGithub, paths: &[String], within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let hit: Vec<String> = paths
            .iter()
            .filter(|p| fake.hits(&format!("{p}.md")) > 0)
            .cloned()
            .collect();
        if !hit.is_empty() {
            return hit;
        }
        assert!(
            Instant::now() < deadline,
            "no lesson was requested within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails with the job and the workers' logs when the job did not end in time.
fn ended(result: Result<Value, Value>, workers: &[&Worker]) -> Value {
    result.unwrap_or_else(|job| {
        let logs: Vec<String> = workers
            .iter()
            .map(|w| format!("--- worker {}:\n{}", w.name, w.log_tail(40)))
            .collect();
        panic!("the job did not end: {job}\n{}", logs.join("\n"))
    })
}

/// Every lesson synced, none dead, the job completed.
fn assert_all_synced(job: &Value, paths: &[String]) {
    assert_eq!(job["status"], "completed", "{job:#}");
    assert_eq!(job["counts"]["synced"], paths.len(), "{job:#}");
    assert_eq!(job["counts"]["dead"], 0, "{job:#}");
    for path in paths {
        let row = lesson(job, path).unwrap_or_else(|| panic!("{path} missing: {job:#}"));
        assert_eq!(row["outcome"], "synced", "{path}: {job:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_worker_processes_become_ready_and_sync_every_lesson_once() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let paths = serve_book(&fake, 6);
    fake.slow(Duration::from_millis(300));
    let env = env_for(&database, &fake, 5);
    let a = Worker::start("a", &env).await;
    let b = Worker::start("b", &env).await;

    // Act
    let id = start_sync(&env).await;
    let job = ended(
        wait_job(&env, &id, Duration::from_secs(60)).await,
        &[&a, &b],
    );

    // Assert
    assert_all_synced(&job, &paths);
    for path in &paths {
        assert_eq!(
            fake.downloads(&format!("{path}.md")),
            1,
            "{path} downloaded once"
        );
    }
    assert_eq!(fake.tree_hits(), 1, "the book is listed once");
    let mut synced = 0.0;
    for worker in [&a, &b] {
        assert!(
            worker.log().contains("worker ready"),
            "{}",
            worker.log_tail(20)
        );
        assert_eq!(worker.ready_status().await, Some(200));
        synced += synced_lessons(&worker.metrics().await);
    }
    assert_eq!(
        synced, 6.0,
        "each worker counts the lessons it synced on /metrics"
    );
}

/// `study_job_tasks_total{task="lesson",outcome="synced"}` of one worker's `/metrics`.
fn synced_lessons(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(r#"study_job_tasks_total{outcome="synced",task="lesson"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no synced lesson count on the worker's /metrics:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_workers_task_is_taken_by_the_next_worker_after_the_heartbeat_timeout() {
    // Arrange: one worker, two seconds per GitHub answer
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let paths = serve_book(&fake, 3);
    fake.slow(Duration::from_secs(2));
    let env = env_for(&database, &fake, 5);
    let first = Worker::start("first", &env).await;
    let id = start_sync(&env).await;
    let running = lesson_in_flight(&fake, &paths, Duration::from_secs(20)).await;

    // Act: the worker dies mid-task; another one starts
    first.sigkill();
    let mut first = first;
    assert!(
        first.wait_exit(Duration::from_secs(5)).await.is_some(),
        "SIGKILL ends the worker"
    );
    fake.slow(Duration::from_millis(200));
    let second = Worker::start("second", &env).await;
    let job = ended(
        wait_job(&env, &id, Duration::from_secs(45)).await,
        &[&first, &second],
    );

    // Assert
    assert_all_synced(&job, &paths);
    for path in &paths {
        assert!(
            fake.downloads(&format!("{path}.md")) >= 1,
            "{path} downloaded: {job:#}"
        );
    }
    for path in &running {
        let row = lesson(&job, path).expect("killed lesson in the job");
        assert!(
            row["attempts"].as_u64().unwrap_or(0) >= 2,
            "the killed try of {path} counts as one: {row}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draining_worker_is_not_ready_exits_zero_and_hands_back_what_the_grace_cut_short() {
    // Arrange: a worker with tasks that outlast its one-second grace
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let paths = serve_book(&fake, 3);
    fake.slow(Duration::from_secs(3));
    let grace = 1;
    let env = env_for(&database, &fake, grace);
    let mut first = Worker::start("first", &env).await;
    let id = start_sync(&env).await;
    lesson_in_flight(&fake, &paths, Duration::from_secs(20)).await;

    // Act
    let asked = Instant::now();
    first.sigterm();
    let mut not_ready = None;
    while asked.elapsed() < Duration::from_secs(2) {
        match first.ready_status().await {
            Some(200) => tokio::time::sleep(Duration::from_millis(20)).await,
            other => {
                not_ready = Some(other);
                break;
            }
        }
    }
    let exit = first
        .wait_exit(Duration::from_secs(grace + 5))
        .await
        .unwrap_or_else(|| panic!("worker still runs; log:\n{}", first.log_tail(40)));
    let stopped_in = asked.elapsed();
    fake.slow(Duration::from_millis(200));
    let second = Worker::start("second", &env).await;
    let job = ended(
        wait_job(&env, &id, Duration::from_secs(30)).await,
        &[&first, &second],
    );

    // Assert
    assert!(
        not_ready.is_some(),
        "/health/ready still answered 200 two seconds after SIGTERM"
    );
    if let Some(Some(status)) = not_ready {
        assert_eq!(status, 503, "a draining worker is not ready");
    }
    assert!(exit.success(), "{exit}; log:\n{}", first.log_tail(40));
    let log = first.log();
    assert!(log.contains("worker draining"), "{}", first.log_tail(40));
    assert!(log.contains("worker stopped"), "{}", first.log_tail(40));
    assert!(
        log.contains("handed back"),
        "the grace cut tasks short: {}",
        first.log_tail(40)
    );
    assert!(
        stopped_in < Duration::from_secs(grace + 5),
        "{stopped_in:?}"
    );
    assert_all_synced(&job, &paths);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_sync_wait_off_a_terminal_prints_plain_progress_and_a_summary() {
    // Arrange: three lessons in a folder, SQLite, the development defaults (a worker inside
    // the command)
    let _turn = crate::harness::shared().await;
    let dir = tempfile::tempdir().expect("folder");
    let book = dir.path().join("book");
    let f = filler();
    for (i, chapter) in [(1, "01-Basics"), (2, "01-Basics"), (3, "02-More")] {
        let file = book.join(format!("01-Intro/{chapter}/{i:02}-lesson.md"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("chapter folder");
        std::fs::write(&file, format!("# Lesson {i}\n\n{f}\n\n## Steps\n\n{f}\n")).expect("lesson");
    }
    let env = pairs(&[
        ("APP_ENV", "development"),
        (
            "DATABASE_URL",
            &format!("sqlite://{}/sync.sqlite?mode=rwc", dir.path().display()),
        ),
        ("LESSONS_DIR", &book.display().to_string()),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("NO_COLOR", "1"),
    ]);

    // Act
    let run = cli(&["book", "sync", "--wait"], &env).await;
    let list = cli(&["jobs", "list"], &env).await;

    // Assert: plain lines on stderr, the summary table on stdout
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{context}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim() == "completed: 3/3 lessons, synced 3"),
        "{context}"
    );
    assert!(
        !run.stderr.contains('\r'),
        "no progress bar off a terminal: {context}"
    );
    let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let table: Vec<String> = run.stdout.lines().map(words).collect();
    assert!(table.iter().any(|l| l == "OUTCOME LESSONS"), "{context}");
    assert!(table.iter().any(|l| l == "synced 3"), "{context}");
    let id = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("job "))
        .expect("the job id on stderr")
        .trim()
        .to_string();
    assert!(
        run.stdout.starts_with(&format!("job {id} completed")),
        "{context}"
    );
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    assert!(list.stdout.contains(&id), "{}", list.stdout);
    let job = show_job(&env, &id).await;
    assert_eq!(job["status"], "completed", "{job:#}");
    assert_eq!(job["counts"]["synced"], 3, "{job:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn book_sync_wait_against_github_with_two_workers_on_postgres_and_redis_shows_the_summary() {
    // Arrange: the production shape: Postgres, Redis, two `worker` processes, the command
    // line only queueing and watching (WORKER_IN_PROCESS=false); one lesson has no title.
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let Some(redis) = crate::harness::stores::redis_url() else {
        return;
    };
    let fake = FakeGithub::start().await;
    let f = filler();
    // A folder of this run's own: progress records in the shared Redis are keyed by path.
    let part = format!("01-Run{}", std::process::id());
    let mut paths = Vec::new();
    for i in 1..=4 {
        let path = format!("{part}/01-Basics/{i:02}-lesson");
        let title = if i == 4 {
            String::new()
        } else {
            format!("# Lesson {i}\n\n")
        };
        fake.put(
            &format!("{path}.md"),
            &format!("{title}{f}\n\n## Steps\n\n{f}\n"),
        );
        paths.push(path);
    }
    fake.slow(Duration::from_millis(100));
    let mut env = env_for(&database, &fake, 5);
    env.extend(pairs(&[("REDIS_URL", &redis)]));
    let a = Worker::start("a", &env).await;
    let b = Worker::start("b", &env).await;

    // Act
    let run = cli(&["book", "sync", "--wait"], &env).await;

    // Assert
    let context = format!(
        "stdout:\n{}\nstderr:\n{}\n--- a:\n{}\n--- b:\n{}",
        run.stdout,
        run.stderr,
        a.log_tail(20),
        b.log_tail(20)
    );
    assert_eq!(run.code, Some(0), "{context}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim() == "completed: 4/4 lessons, synced 4"),
        "{context}"
    );
    let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let out: Vec<String> = run.stdout.lines().map(words).collect();
    assert!(out.iter().any(|l| l == "synced 4"), "{context}");
    assert!(out.iter().any(|l| l == "Quality problems (1)"), "{context}");
    assert!(
        out.iter()
            .any(|l| l.starts_with(paths[3].as_str()) && l.contains("missing_title")),
        "{context}"
    );
    for path in &paths {
        assert_eq!(
            fake.downloads(&format!("{path}.md")),
            1,
            "{path}: {context}"
        );
    }
}
