//! Book sync time per lesson: a generated book in a local folder, synced end to end through
//! the real queue (apalis), pipeline and stores, by one worker of `--concurrency` tasks.
//!
//! `cargo bench --bench sync -- [--lessons 300] [--concurrency 4]
//! [--database sqlite|postgres://…] [--redis redis://127.0.0.1:6379] [--searches 2000]`
//!
//! Runs a first sync (every lesson fetched, analysed, indexed), then a second one (every lesson
//! unchanged: the listing says so, nothing is read), and prints wall time and time per lesson
//! of each. Then it times `--searches` book searches (`GET /v1/book/search`'s and ask mode's
//! full-text search, snippets included) over the synced index, one after another, with
//! questions that vary their words, and prints p50, p99 and searches per second. With `--database postgres://…` a fresh database is created on that server (and
//! dropped afterwards); with `--redis` progress goes to Redis under its own prefix.

mod common;

use std::time::{Duration, Instant};

use common::arg;
use study_mode_api::adapters::jobs::start_worker;
use study_mode_api::app::search::SearchService;
use study_mode_api::bootstrap::sync::{Standalone, worker_name, worker_settings};
use study_mode_api::config::Config;
use study_mode_api::domain::sync::SyncScope;

fn lesson(i: usize) -> String {
    let filler =
        "An agent observes, decides and acts, again and again, until its goal is met. ".repeat(5);
    format!(
        "---\ntitle: Lesson {i}\nsidebar_position: {i}\n---\n\n{filler}\n\n## Observe\n\n{filler}\n\n\
         See [the next one](./lesson-{:04}.md).\n\n## Decide\n\n{filler}\n\n## Act\n\n{filler}\n",
        i + 1
    )
}

async fn postgres_database(server: &str) -> (String, String) {
    let name = format!("bench_sync_{}", std::process::id());
    let admin = sqlx::PgPool::connect(server)
        .await
        .expect("Postgres reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    (format!("{base}/{name}"), name)
}

/// Questions a student might ask of the generated book; `i` varies the words so the database
/// cannot answer every search from one cached plan and result.
fn question(i: usize) -> String {
    const WORDS: [&str; 6] = ["observes", "decides", "acts", "goal", "agent", "met"];
    format!(
        "When does the {} {} and {}?",
        WORDS[i % 6],
        WORDS[(i / 6) % 6],
        WORDS[(i / 36) % 6]
    )
}

async fn time_searches(search: &SearchService, n: usize) {
    if n == 0 {
        return;
    }
    let mut took = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let one = Instant::now();
        let hits = search.search(&question(i), 10).await.expect("search");
        took.push(one.elapsed());
        assert!(!hits.is_empty(), "the book answers {}", question(i));
    }
    let wall = started.elapsed();
    took.sort_unstable();
    let at = |q: f64| took[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "book search (full text, limit 10, snippets): {n} searches in {:.2} s = {:.0}/s, \
         p50 {:.2} ms, p99 {:.2} ms",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    let lessons: usize = arg("--lessons", "300").parse().expect("--lessons");
    let concurrency = arg("--concurrency", "4");
    let database = arg("--database", "sqlite");
    let redis = arg("--redis", "");
    let searches: usize = arg("--searches", "2000").parse().expect("--searches");

    let book = tempfile::tempdir().expect("book folder");
    for i in 0..lessons {
        let path = book
            .path()
            .join(format!(
                "{:02}-Part/{:02}-Chapter",
                i / 100 + 1,
                (i / 10) % 10 + 1
            ))
            .join(format!("lesson-{i:04}.md"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, lesson(i)).unwrap();
    }
    let data = tempfile::tempdir().expect("data folder");
    let (url, pg_name) = if database == "sqlite" {
        (
            format!("sqlite://{}/bench.sqlite?mode=rwc", data.path().display()),
            None,
        )
    } else {
        let (url, name) = postgres_database(&database).await;
        (url, Some(name))
    };
    let mut vars = vec![
        ("DATABASE_URL".to_string(), url.clone()),
        ("LESSONS_DIR".to_string(), book.path().display().to_string()),
        ("WORKER_CONCURRENCY".to_string(), concurrency.clone()),
        ("JOB_POLL_INTERVAL_MS".to_string(), "50".to_string()),
        ("LOG_LEVEL".to_string(), "warn".to_string()),
    ];
    if !redis.is_empty() {
        vars.push(("REDIS_URL".to_string(), redis.clone()));
    }
    let config = Config::from_vars(vars).expect("configuration");
    let sync = Standalone::open(&config).await.expect("sync opens");
    let parts = sync.parts.clone();
    let worker = start_worker(
        &parts.queue,
        parts.service.clone(),
        worker_settings(&config, worker_name("bench")),
    );
    println!(
        "book sync: {lessons} lessons, one worker of {concurrency} tasks, database {}, progress {}",
        if pg_name.is_some() {
            "Postgres"
        } else {
            "SQLite"
        },
        if sync.redis.is_some() {
            "Redis"
        } else {
            "in process"
        }
    );
    for round in [
        "first sync (all fetched and indexed)",
        "second sync (all unchanged)",
    ] {
        let started = Instant::now();
        let id = parts
            .service
            .start(SyncScope::Book, "bench")
            .await
            .expect("start");
        let report = loop {
            let report = parts
                .service
                .report(&id)
                .await
                .expect("report")
                .expect("run");
            if report.status().is_final() {
                break report;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = started.elapsed();
        println!(
            "{round}: {:?} in {:.2} s = {:.1} ms per lesson ({:.0} lessons/s), status {}",
            report
                .counts()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(o, n)| format!("{} {n}", o.as_str()))
                .collect::<Vec<_>>(),
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / lessons as f64,
            lessons as f64 / took.as_secs_f64(),
            report.status().as_str()
        );
    }
    time_searches(&parts.search, searches).await;
    sync.close(Some(worker)).await;
    if let Some(name) = pg_name {
        let admin = sqlx::PgPool::connect(&database).await.expect("Postgres");
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
    }
}
