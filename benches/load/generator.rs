//! The load generator: N keep-alive HTTP/1.1 connections (hyper, no `wrk`) that either send
//! requests back to back for a fixed window after a warm-up (`Mode::Loop`), or each open one
//! tutoring stream and hold it (`Mode::Hold`). Jobs and results are plain serde values so that
//! worker processes can run them and report back as JSON.

pub mod conn;
mod hold;
mod looped;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency recorded, in microseconds (10 minutes); anything longer is clamped.
const MAX_MICROS: u64 = 600_000_000;

/// One request as the generator sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSpec {
    /// `GET` or `POST`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// JSON body, when any.
    pub body: Option<String>,
    /// Whether the answer is an SSE stream to read event by event.
    pub stream: bool,
}

/// How the connections of a job behave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Mode {
    /// Requests back to back; only those completed inside the measured window count.
    Loop {
        /// Load before the window, not counted.
        warmup_ms: u64,
        /// The measured window.
        duration_ms: u64,
        /// One request's (or whole stream's) time limit.
        timeout_ms: u64,
    },
    /// One stream per connection, opened (at most `open_concurrency` at a time) within
    /// `ramp_ms`, then held for `hold_ms` after the last one opened.
    Hold {
        /// Longest time for opening every stream.
        ramp_ms: u64,
        /// How long streams are held once all are open.
        hold_ms: u64,
        /// Streams being opened at once.
        open_concurrency: usize,
    },
}

/// A unit of load, run in this process or in a worker process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Where the service listens.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// The request every connection sends.
    pub request: RequestSpec,
    /// Extra headers per connection (identity: user id or bearer token), cycled.
    pub identities: Vec<Vec<(String, String)>>,
    /// Global index of this job's first connection (spreads source addresses across workers).
    pub first_index: usize,
    /// Connections (or streams) of this job.
    pub connections: usize,
    /// Source addresses 127.0.0.2 … 127.0.0.(1+N); 0 lets the kernel choose.
    pub source_ips: u8,
    /// Behaviour.
    pub mode: Mode,
}

impl Job {
    /// Source address of the connection with global index `index`.
    pub fn source_ip(&self, index: usize) -> Option<Ipv4Addr> {
        if self.source_ips == 0 || !self.addr.ip().is_loopback() {
            return None;
        }
        let offset = u8::try_from(index % usize::from(self.source_ips)).unwrap_or(0);
        Some(Ipv4Addr::new(127, 0, 0, 2 + offset))
    }

    /// Identity headers of the connection with local index `local`.
    pub fn identity(&self, local: usize) -> &[(String, String)] {
        match self.identities.len() {
            0 => &[],
            n => &self.identities[local % n],
        }
    }
}

/// Latency histogram in microseconds that travels as `[(value, count)]` pairs.
#[derive(Debug, Clone)]
pub struct Hist(pub Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        // Constant bounds (1 µs … 10 min, 3 significant digits), valid by construction.
        #[allow(clippy::expect_used)]
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant bounds are valid"))
    }
}

impl Hist {
    /// Records one duration in microseconds (clamped to the histogram's range).
    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Hist) {
        for v in other.0.iter_recorded() {
            let _ = self.0.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }

    /// Value at quantile `q` (0..=1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    /// Largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.max() as f64 / 1000.0
    }
}

impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(u64, u64)> = self
            .0
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        pairs.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(u64, u64)>::deserialize(d)?;
        let mut hist = Hist::default();
        for (value, count) in pairs {
            let _ = hist.0.record_n(value.clamp(1, MAX_MICROS), count);
        }
        Ok(hist)
    }
}

/// What a job measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobResult {
    /// Requests or turns completed successfully inside the window.
    pub completed: u64,
    /// Length of the measured window in milliseconds.
    pub window_ms: u64,
    /// Whole request (or turn) latency.
    pub latency: Hist,
    /// Time to the first SSE event (streams only).
    pub ttfe: Hist,
    /// Failures by kind (`connect`, `timeout`, `status 503`, `stream cut`, …).
    pub errors: BTreeMap<String, u64>,
    /// Streams that delivered their first event (hold mode).
    pub opened: u64,
    /// Streams still open, without error, when the hold ended (hold mode).
    pub held: u64,
    /// SSE events and keep-alive comments received (streams).
    pub events: u64,
    /// Milliseconds from the start until every stream was open or failed (hold mode).
    pub ramp_ms: u64,
}

impl JobResult {
    /// Counts one failure of `kind`.
    pub fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
    }

    /// Folds the result of another worker (or connection) into this one.
    pub fn merge(&mut self, other: &JobResult) {
        self.completed += other.completed;
        self.window_ms = self.window_ms.max(other.window_ms);
        self.latency.merge(&other.latency);
        self.ttfe.merge(&other.ttfe);
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        self.opened += other.opened;
        self.held += other.held;
        self.events += other.events;
        self.ramp_ms = self.ramp_ms.max(other.ramp_ms);
    }

    /// Total failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Shared, lock-protected result the connection tasks of one job record into.
pub(crate) type Shared = std::sync::Arc<Mutex<JobResult>>;

/// Records into the shared result; a poisoned lock (a panicked task) still yields the data.
pub(crate) fn with<R>(shared: &Shared, f: impl FnOnce(&mut JobResult) -> R) -> R {
    let mut guard = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

/// Runs `job` in this process.
///
/// # Errors
/// When the request spec cannot be turned into an HTTP request.
pub async fn run(job: Job) -> Result<JobResult, String> {
    match job.mode.clone() {
        Mode::Loop {
            warmup_ms,
            duration_ms,
            timeout_ms,
        } => looped::run(job, warmup_ms, duration_ms, timeout_ms).await,
        Mode::Hold {
            ramp_ms,
            hold_ms,
            open_concurrency,
        } => hold::run(job, ramp_ms, hold_ms, open_concurrency).await,
    }
}
