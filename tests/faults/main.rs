//! The fault matrix of issue 13: for each fault a test drives concurrent tutoring turns through
//! it, then audits the store — every acknowledged student message stored exactly once, every
//! answer that reached `thread.item.done` stored with the same text, no duplicates, no 500, no
//! thread locked afterwards, recovery within a bound.
//!
//! The service runs as a child process (the binary of this checkout) against a fake model; the
//! stores are the real Postgres and Redis of `TEST_DATABASE_URL` / `TEST_REDIS_URL`, reached
//! through TCP proxies owned by the test (they are never stopped or flushed), and SQLite on a
//! small tmpfs (mounting needs root, as in CI). Without those variables the rows that need them
//! print `SKIP:`; with `CI` set they fail instead.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --locked --test faults
//! ```
//!
//! Each test prints its figures (`== fault row …: notes`); add `-- --nocapture` to see them on
//! success. A failure lists every problem found (grouped by symptom) and the service's last
//! warnings and errors.

mod harness;

/// The API suite's fake GitHub (raw files, the git trees endpoint, `slow`), from its folder
/// so its self-test module is found (and runs here too).
#[path = "../api"]
#[allow(dead_code)] // the rows here use only part of its switches
mod api {
    pub mod fake_github;
}
use api::fake_github;

mod control;
mod pool;
mod postgres;
mod redis;
mod replicas;
mod shutdown;
mod sqlite_disk_full;
mod workers;
mod workers_outage;
