//! Outage memory of the shared Redis client: once Redis is found unreachable, every adapter
//! fails fast (callers fall back to their in-process path at once) instead of waiting out its
//! timeout on every request, while one background task pings Redis until it answers again.
//!
//! A lost connection is an outage at once. A timeout is only a suspicion, since a busy Redis
//! (or a busy replica) may answer one call late: a `PING` confirms it, and only a `PING` that
//! goes unanswered too marks Redis down.

mod probe;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike, Error, ErrorKind};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use tokio::sync::watch;
use tokio::time::Instant;

/// Pause between two probes while Redis is down.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Bound on one probe: a Redis slower than this to answer `PING` is no use to a request.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Why a guarded Redis call gave no answer. `Display` names the kind only, never the address
/// or credentials.
#[derive(Debug)]
pub enum RedisFailure {
    /// Not sent: Redis is known to be unreachable.
    Down,
    /// Not sent: the client has no connection (it reconnects by itself).
    Disconnected,
    /// No answer within the caller's bound.
    TimedOut,
    /// Redis, or the connection to it, answered with an error.
    Error(Error),
}

impl std::fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Down => f.write_str("unreachable"),
            Self::Disconnected => f.write_str("disconnected"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Error(e) => write!(f, "{:?}", e.kind()),
        }
    }
}

/// What the health state needs of a client; a trait so unit tests can play the server.
#[async_trait]
pub(super) trait Link: Send + Sync + 'static {
    /// Whether the client says its connection is up.
    fn is_connected(&self) -> bool;
    /// One `PING`.
    async fn ping(&self) -> Result<(), Error>;
}

#[async_trait]
impl Link for Client {
    fn is_connected(&self) -> bool {
        ClientLike::is_connected(self)
    }

    async fn ping(&self) -> Result<(), Error> {
        ClientLike::ping::<String>(self, None).await.map(drop)
    }
}

/// Whether Redis is reachable, shared by every adapter of one client (cheap to clone).
///
/// Starts up. Goes down when a call guarded by [`RedisHealth::call`] fails on the connection,
/// when the client reports its connection lost, or when a call times out and a `PING` then goes
/// unanswered too. While down, guarded calls fail with [`RedisFailure::Down`] without sending
/// anything (calls waiting on Redis at that moment are released with it), and a background
/// task pings Redis every second until it answers. Logs once when an outage starts and once
/// when it ends.
#[derive(Clone)]
pub struct RedisHealth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHealth")
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

struct Inner {
    link: Arc<dyn Link>,
    /// Whether Redis is believed reachable; a watch so calls in flight learn of an outage.
    up: watch::Sender<bool>,
    /// Whether the connection was ever seen up: before that, "not connected" only means the
    /// first connection is still under way, and a command waits for it.
    seen_connected: AtomicBool,
    /// Whether a probe task runs (one per outage).
    probing: AtomicBool,
    /// Whether a `PING` is checking a timeout (one at a time).
    confirming: AtomicBool,
    closed: AtomicBool,
    down_since: Mutex<Option<Instant>>,
    interval: Duration,
    probe_timeout: Duration,
    up_gauge: IntGauge,
    fast_failures: IntCounterVec,
}

impl RedisHealth {
    /// The health of `client`'s connection, probed with `PING` while down.
    pub fn new(client: Client) -> Self {
        Self::with_link(Arc::new(client), PROBE_INTERVAL, PROBE_TIMEOUT)
    }

    pub(super) fn with_link(
        link: Arc<dyn Link>,
        interval: Duration,
        probe_timeout: Duration,
    ) -> Self {
        let up_gauge = IntGauge::new(
            "redis_up",
            "1 while Redis answers, 0 while adapters fall back without asking it",
        )
        .expect("static gauge definition is valid");
        up_gauge.set(1);
        let fast_failures = IntCounterVec::new(
            Opts::new(
                "redis_fast_failures_total",
                "Redis calls not sent because Redis was known to be unreachable, by component",
            ),
            &["component"],
        )
        .expect("static counter definition is valid");
        Self {
            inner: Arc::new(Inner {
                link,
                up: watch::Sender::new(true),
                seen_connected: AtomicBool::new(false),
                probing: AtomicBool::new(false),
                confirming: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                down_since: Mutex::new(None),
                interval,
                probe_timeout,
                up_gauge,
                fast_failures,
            }),
        }
    }

    /// Registers `redis_up` and `redis_fast_failures_total` on `registry`.
    pub fn register(&self, registry: &Registry) {
        for collector in [
            Box::new(self.inner.up_gauge.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(self.inner.fast_failures.clone()),
        ] {
            if let Err(e) = registry.register(collector) {
                tracing::warn!(error = %e, "Redis health metrics not registered");
            }
        }
    }

    /// Whether Redis is believed reachable.
    pub fn is_up(&self) -> bool {
        *self.inner.up.borrow()
    }

    /// Runs one Redis call within `timeout`, unless Redis is known to be down: then fails at
    /// once without polling `call` (so nothing is sent), and likewise as soon as Redis is found
    /// down while the call waits. A connection error marks Redis down, a timeout has it
    /// checked; an error reply (a wrong type, a missing script) does neither. Before the
    /// client's first connection the call waits for it (within `timeout`). `component` labels
    /// `redis_fast_failures_total` (a fixed name such as `lesson_cache`).
    ///
    /// # Errors
    /// [`RedisFailure`] when the call was not sent, timed out or failed.
    pub async fn call<R>(
        &self,
        component: &'static str,
        timeout: Duration,
        call: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, RedisFailure> {
        self.admit(component, false)?;
        self.send(timeout, call).await
    }

    /// [`Self::call`] for a call that must never queue behind a connection being (re)made, even
    /// the first one: a rate-limit check queued during an outage would be replayed after the
    /// reconnection and spend the quota twice.
    ///
    /// # Errors
    /// [`RedisFailure`] when the call was not sent, timed out or failed.
    pub async fn call_connected<R>(
        &self,
        component: &'static str,
        timeout: Duration,
        call: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, RedisFailure> {
        self.admit(component, true)?;
        self.send(timeout, call).await
    }

    /// The admission of [`Self::call_connected`] alone, for a caller that sends later, in a
    /// call shared with others (the rate limiter's batches): each caller is admitted, and its
    /// refusal counted, as if it sent its own call.
    ///
    /// # Errors
    /// [`RedisFailure::Down`] or [`RedisFailure::Disconnected`] when nothing may be sent now.
    pub(crate) fn admit_connected(&self, component: &'static str) -> Result<(), RedisFailure> {
        self.admit(component, true)
    }

    /// The waiting of [`Self::call`] alone, for a call whose callers were admitted with
    /// [`Self::admit_connected`].
    ///
    /// # Errors
    /// [`RedisFailure`] when the call timed out, failed, or Redis was found down meanwhile.
    pub(crate) async fn send_admitted<R>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, RedisFailure> {
        self.send(timeout, call).await
    }

    /// Awaits an admitted call, giving up early if Redis is found down meanwhile.
    async fn send<R>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, RedisFailure> {
        let mut up = self.inner.up.subscribe();
        tokio::select! {
            biased;
            outcome = tokio::time::timeout(timeout, call) => self.observe(outcome),
            _ = up.wait_for(|up| !*up) => Err(RedisFailure::Down),
        }
    }

    /// One `PING` within `timeout`, for readiness: a real round trip whatever the remembered
    /// state (unless the client reports its connection lost), whose outcome updates it.
    ///
    /// # Errors
    /// [`RedisFailure`] when Redis did not answer.
    pub async fn ping(&self, timeout: Duration) -> Result<(), RedisFailure> {
        if !self.check_connection() {
            return Err(RedisFailure::Disconnected);
        }
        match tokio::time::timeout(timeout, self.inner.link.ping()).await {
            Ok(Ok(())) => {
                self.inner.mark_up();
                Ok(())
            }
            Ok(Err(e)) => {
                if is_outage(e.kind()) || is_slow(e.kind()) {
                    self.inner.mark_down(&format!("{:?}", e.kind()));
                }
                Err(RedisFailure::Error(e))
            }
            // An unanswered PING is the confirmation a timeout of another call waits for.
            Err(_) => {
                self.inner.mark_down("timed out");
                Err(RedisFailure::TimedOut)
            }
        }
    }

    /// Stops probing (the client is closing).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    /// Whether a call may be sent now; a refusal counts as a fast failure of `component`.
    fn admit(&self, component: &'static str, connected: bool) -> Result<(), RedisFailure> {
        let refusal = if !self.is_up() {
            RedisFailure::Down
        } else if !self.check_connection() || (connected && !self.inner.link.is_connected()) {
            RedisFailure::Disconnected
        } else {
            return Ok(());
        };
        self.inner
            .fast_failures
            .with_label_values(&[component])
            .inc();
        Err(refusal)
    }

    /// Whether the client's connection is up or still being established for the first time;
    /// false (and Redis marked down) when the client says a connection it had is gone.
    fn check_connection(&self) -> bool {
        if self.inner.link.is_connected() {
            self.inner.seen_connected.store(true, Ordering::Release);
            return true;
        }
        if !self.inner.seen_connected.load(Ordering::Acquire) {
            return true;
        }
        self.inner.mark_down("disconnected");
        false
    }

    fn observe<R>(
        &self,
        outcome: Result<Result<R, Error>, tokio::time::error::Elapsed>,
    ) -> Result<R, RedisFailure> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if is_outage(e.kind()) {
                    self.inner.mark_down(&format!("{:?}", e.kind()));
                } else if is_slow(e.kind()) {
                    self.inner.confirm();
                }
                Err(RedisFailure::Error(e))
            }
            Err(_) => {
                self.inner.confirm();
                Err(RedisFailure::TimedOut)
            }
        }
    }
}

/// Awaits a Redis call within `timeout`, through `health` when there is one (adapters built
/// without it behave as before: every call waits out its own timeout).
///
/// # Errors
/// [`RedisFailure`] when the call was not sent, timed out or failed.
pub async fn guarded<R>(
    health: Option<&RedisHealth>,
    component: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<R, Error>>,
) -> Result<R, RedisFailure> {
    match health {
        Some(health) => health.call(component, timeout, call).await,
        None => match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(RedisFailure::Error(e)),
            Err(_) => Err(RedisFailure::TimedOut),
        },
    }
}

/// Errors that say the connection, not the command, failed.
fn is_outage(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::IO | ErrorKind::Canceled | ErrorKind::Routing | ErrorKind::Tls
    )
}

/// Errors that say Redis (or the client) is slow, which may or may not be an outage.
fn is_slow(kind: &ErrorKind) -> bool {
    matches!(kind, ErrorKind::Timeout | ErrorKind::Backpressure)
}
