//! Load bench of the lesson cache.
//!
//! `cargo bench --bench lessons -- [--redis redis://127.0.0.1:6379] [--secs 10]`
//!
//! Starts the release binary as a child process with a fake GitHub raw server in this process
//! that answers after 100 ms. Measures the first (uncached) `GET /v1/lessons` of 50 different
//! lessons one after another, then runs `wrk` (Debian package `wrk`) on one cached lesson at 64,
//! 256 and 1,024 connections. Prints markdown rows. Traffic stays on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use poem::web::Path;
use poem::{Route, get, handler};

use common::{arg, pct, start_service};

const UPSTREAM_DELAY: Duration = Duration::from_millis(100);

#[handler]
async fn raw(Path(rest): Path<String>) -> poem::Result<String> {
    tokio::time::sleep(UPSTREAM_DELAY).await;
    if !rest.ends_with(".md") {
        return Err(poem::Error::from_status(poem::http::StatusCode::NOT_FOUND));
    }
    let mut text = String::from("---\ntitle: Bench lesson\n---\n\n# Bench lesson\n\n");
    for section in 0..6 {
        text.push_str(&format!("## Section {section}\n\n"));
        text.push_str(
            &"Agents observe, think and act in a loop until the goal is met. ".repeat(12),
        );
        text.push_str("\n\n");
    }
    Ok(text)
}

async fn start_fake_github() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake GitHub");
    let addr = listener.local_addr().expect("address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run(Route::new().at("/*rest", get(raw))),
    );
    format!("http://{addr}")
}

fn wrk(url: &str, connections: usize, secs: u64) -> String {
    let out = std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
            url,
        ])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let find = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_else(|| "?".into())
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .unwrap_or("none")
        .trim()
        .to_string();
    format!(
        "| {connections} | {} | {} | {} | {} | {errors} |",
        find("Requests/sec:"),
        find("50%"),
        find("99%"),
        find("Latency")
    )
}

fn main() {
    study_mode_api::bootstrap::install_tls_provider();
    let secs: u64 = arg("--secs", "10").parse().unwrap_or(10);
    let redis = arg("--redis", "");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let github = start_fake_github().await;
        // Rate limiting stays on (every read is checked against the api quota of the one bench
        // user), with a quota too large to reject anything: the figures include the check.
        let mut env = vec![
            ("GITHUB_RAW_BASE_URL", github),
            ("GITHUB_TOKEN", "bench-token".to_string()),
            ("RATE_LIMIT_API_FREE", "1000000/second".to_string()),
        ];
        if !redis.is_empty() {
            env.push(("REDIS_URL", redis.clone()));
        }
        let mut service = start_service(&env).await;
        let client = reqwest::Client::new();
        let mut first = Vec::new();
        for i in 0..50 {
            let started = Instant::now();
            let resp = client
                .get(format!("{}/v1/lessons?path=bench/lesson-{i}", service.base))
                .send()
                .await
                .expect("request");
            assert!(resp.status().is_success(), "first request answers 200");
            let _ = resp.bytes().await;
            first.push(started.elapsed().as_micros() as u64);
        }
        first.sort_unstable();
        let tier = if redis.is_empty() {
            "in-process cache"
        } else {
            "in-process + Redis"
        };
        println!(
            "\n### Lessons ({tier}); upstream answers after {} ms\n",
            UPSTREAM_DELAY.as_millis()
        );
        println!(
            "First (uncached) request, 50 lessons: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n",
            pct(&first, 0.5),
            pct(&first, 0.99),
            pct(&first, 1.0)
        );
        println!("| connections | requests/s | p50 | p99 | mean | errors |");
        println!("|---|---|---|---|---|---|");
        let url = format!("{}/v1/lessons?path=bench/lesson-0", service.base);
        for connections in [64, 256, 1024] {
            println!("{}", wrk(&url, connections, secs));
        }
        println!("\nBaseline, same run: `/health`");
        println!("{}", wrk(&format!("{}/health", service.base), 256, secs));
        let _ = service.child.kill().await;
    });
}
