//! Cost of status operations (the seed's target: under 10 ms at p99 with 10,000 resources in
//! flight): the in-process tracker and the Redis tracker.
//!
//! `cargo bench --bench progress -- [--redis redis://127.0.0.1:6379] [--resources 10000]
//! [--ops 100000] [--concurrency 32]`
//!
//! First records a stage of each of `--resources` resources, then runs `--ops` operations from
//! `--concurrency` tasks at once, each a random pick: 45% `set_progress` (a random stage and
//! status of a random resource, an error for a failed one), 50% `get_progress`, 5% `get_many`
//! of 50 random resources (a job's page). Prints p50/p99/max per operation in milliseconds.
//! Redis keys live under a prefix of their own and expire after 10 minutes; nothing is
//! flushed. Traffic stays on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{arg, pct};
use study_mode_api::adapters::progress_memory::MemoryProgressTracker;
use study_mode_api::adapters::progress_redis::{ProgressSettings, RedisProgressTracker};
use study_mode_api::domain::ports::ProgressTracker;
use study_mode_api::domain::progress::{Stage, StageStatus};

const OPS: [&str; 3] = ["set_progress", "get_progress", "get_many (50)"];

/// xorshift64*: enough randomness for picking, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn resource(i: usize) -> String {
    format!("bench/part-{:02}/lesson-{i:05}", i % 17)
}

/// One operation; returns which one it was.
async fn one(tracker: &dyn ProgressTracker, rng: &mut Rng, resources: usize) -> usize {
    let roll = rng.below(100);
    let r = resource(rng.below(resources));
    if roll < 45 {
        let stage = Stage::ALL[rng.below(Stage::ALL.len())];
        let status = [
            StageStatus::Processing,
            StageStatus::Completed,
            StageStatus::Failed,
        ][rng.below(3)];
        let error = (status == StageStatus::Failed).then_some("section 3 is too long to teach");
        tracker.set_progress(&r, stage, status, error).await;
        0
    } else if roll < 95 {
        std::hint::black_box(tracker.get_progress(&r).await);
        1
    } else {
        let page: Vec<String> = (0..50).map(|_| resource(rng.below(resources))).collect();
        std::hint::black_box(tracker.get_many(&page).await);
        2
    }
}

async fn measure(
    name: &str,
    tracker: Arc<dyn ProgressTracker>,
    resources: usize,
    ops: usize,
    tasks: usize,
) {
    for i in 0..resources {
        tracker
            .set_progress(&resource(i), Stage::Ingestion, StageStatus::Completed, None)
            .await;
    }
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let tracker = tracker.clone();
            let share = ops / tasks + usize::from(t < ops % tasks);
            tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                let mut took: [Vec<u64>; 3] = Default::default();
                for _ in 0..share {
                    let at = Instant::now();
                    let op = one(tracker.as_ref(), &mut rng, resources).await;
                    took[op].push(at.elapsed().as_micros() as u64);
                }
                took
            })
        })
        .collect();
    let mut took: [Vec<u64>; 3] = Default::default();
    for handle in handles {
        for (all, mine) in took.iter_mut().zip(handle.await.expect("bench task")) {
            all.extend(mine);
        }
    }
    let elapsed = started.elapsed();
    for (op, times) in OPS.iter().zip(&mut took) {
        times.sort_unstable();
        println!(
            "| {name} | {op} | {} | {:.3} | {:.3} | {:.3} |",
            times.len(),
            pct(times, 0.5),
            pct(times, 0.99),
            pct(times, 1.0)
        );
    }
    println!(
        "| {name} | all ({tasks} tasks) | {ops} | {:.0} ops/s | | |",
        ops as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let redis = arg("--redis", "");
    let resources: usize = arg("--resources", "10000").parse().unwrap_or(10_000).max(1);
    let ops: usize = arg("--ops", "100000").parse().unwrap_or(100_000);
    let tasks: usize = arg("--concurrency", "32").parse().unwrap_or(32).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("{resources} resources in flight, {ops} operations from {tasks} tasks");
        println!();
        println!("| tracker | operation | calls | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|");
        let memory = MemoryProgressTracker::new(100_000, Duration::from_secs(600));
        measure("in-process", Arc::new(memory), resources, ops, tasks).await;
        if !redis.is_empty() {
            use fred::prelude::ClientLike;
            let config = study_mode_api::config::RedisConfig {
                url: redis.clone().into(),
                password: None,
            };
            let client =
                study_mode_api::adapters::redis::RedisClient::connect(&config).expect("valid URL");
            let _ =
                tokio::time::timeout(Duration::from_secs(5), client.client().wait_for_connect())
                    .await;
            let settings = ProgressSettings {
                prefix: format!("progress-bench:{}:", uuid::Uuid::new_v4().simple()),
                ttl: Duration::from_secs(600),
                call_timeout: Duration::from_millis(500),
            };
            let tracker = RedisProgressTracker::new(client.client().clone(), settings)
                .with_health(client.health().clone());
            measure("Redis", Arc::new(tracker), resources, ops, tasks).await;
        }
    });
}
