//! Cost of one quota check: the in-process limiter and the Redis limiter (one Lua script).
//!
//! `cargo bench --bench limiter -- [--redis redis://127.0.0.1:6379] [--calls 20000]`
//!
//! Runs checks one after another over 1,000 users with the default chat quota (two windows) and
//! prints p50/p99/max in microseconds. Traffic stays on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::arg;
use study_mode_api::adapters::rate_limit_memory::MemoryRateLimiter;
use study_mode_api::adapters::rate_limit_redis::RedisRateLimiter;
use study_mode_api::domain::ports::RateLimiter;
use study_mode_api::domain::rate_limit::parse_windows;

async fn measure(name: &str, limiter: Arc<dyn RateLimiter>, calls: usize) {
    let windows = parse_windows("20/minute,500/day").expect("valid quota");
    let mut took = Vec::with_capacity(calls);
    let mut errors = 0;
    for i in 0..calls {
        let key = format!("chat:bench-{}", i % 1_000);
        let started = Instant::now();
        if limiter.check(&key, &windows).await.is_err() {
            errors += 1;
        }
        took.push(started.elapsed().as_nanos() as u64);
    }
    took.sort_unstable();
    let at = |p: f64| took[((took.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    println!(
        "| {name} | {calls} | {:.1} | {:.1} | {:.1} | {errors} |",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let calls: usize = arg("--calls", "20000").parse().unwrap_or(20_000);
    let redis = arg("--redis", "");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("| limiter | checks | p50 µs | p99 µs | max µs | errors |");
        println!("|---|---|---|---|---|---|");
        measure(
            "in-process",
            Arc::new(MemoryRateLimiter::new(100_000)),
            calls,
        )
        .await;
        if !redis.is_empty() {
            use fred::prelude::ClientLike;
            let config = study_mode_api::config::RedisConfig {
                url: redis.clone().into(),
                password: None,
            };
            let client = study_mode_api::adapters::redis::RedisClient::connect(&config)
                .expect("valid URL")
                .client()
                .clone();
            let _ = tokio::time::timeout(Duration::from_secs(5), client.wait_for_connect()).await;
            let prefix = format!("rlbench:{}:", uuid::Uuid::new_v4().simple());
            measure(
                "Redis (Lua)",
                Arc::new(RedisRateLimiter::new(
                    client,
                    &prefix,
                    Duration::from_millis(500),
                )),
                calls,
            )
            .await;
        }
    });
}
