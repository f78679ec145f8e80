//! The fault-matrix harness: the service as a child process, a controllable fake model, a TCP
//! proxy that cuts, resets and blackholes a store, a crowd of students, the audit, and book sync
//! workers as child processes with the command line that starts and reads their jobs.

pub mod audit;
pub mod client;
pub mod crowd;
pub mod findings;
pub mod model;
pub mod proxy;
pub mod raw;
pub mod rest;
pub mod service;
pub mod stores;
pub mod worker;

use std::time::{Duration, Instant};

/// Sleeps until `at` (at once when it has passed).
pub async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
}

/// `secs` seconds (fractional) as a duration, for readable scenario timelines.
pub fn secs(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// Installs the TLS crypto provider reqwest needs (the crate builds it without a default one).
pub fn crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Rows run two at a time (the test harness' threads), except the one that saturates the
/// machine on purpose: it takes [`alone`] and runs by itself, so its load never skews another
/// row's timings, nor theirs its own.
static EXCLUSIVE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Held by every row that may run beside another.
pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().await
}

/// Held by a row that must run alone.
pub async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().await
}
