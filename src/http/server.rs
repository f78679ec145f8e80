//! The HTTP server loop: accepts connections, serves HTTP/1.1 and HTTP/2 (h2c) on each with
//! hyper, and holds every connection to the edge limits of [`HttpEdgeConfig`]:
//!
//! - a request head must arrive within `header_read_timeout` (of the accept for a connection's
//!   first request, of its first byte for later ones), so connections that never finish their
//!   headers are closed;
//! - a connection with no request in flight and no traffic for `idle_timeout` is closed (a
//!   response still being sent, such as an open SSE stream, keeps its connection);
//! - a peer that accepts none of our bytes for `idle_timeout` is cut;
//! - HTTP/2 connections advertise `http2_max_concurrent_streams`;
//! - past `max_connections` open connections, a new one gets a 503 and is closed.
//!
//! poem's own `Server` offers none of the first three and no connection cap; this loop drives
//! the same hyper builder it uses and hands each request to the same poem endpoint.

mod activity;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt};
use prometheus::{IntCounter, IntGauge};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use self::activity::{Activity, HeadTimer, Tracked};
use crate::config::HttpEdgeConfig;
use crate::http::error::ApiError;

/// Largest HTTP/2 header block a client may send (poem's default).
const H2_MAX_HEADER_LIST: u32 = 16 * 1024;
/// HTTP/2 streams a client may reset before its connection is closed (rapid-reset defence).
const H2_MAX_PENDING_RESETS: usize = 20;
/// How long a connection must have been idle, while the server drains, before it is closed.
const DRAIN_LINGER: Duration = Duration::from_secs(2);
/// How often a draining connection looks whether it can close.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// How long connections get, after the shutdown work ended, to send their last events.
const FLUSH_WINDOW: Duration = Duration::from_secs(1);
/// How long a refused connection gets to take its 503.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer to a connection past `MAX_CONNECTIONS`, written before the request is read.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json; charset=utf-8\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 99\r\n\
\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"The server is at its connection limit; retry.\"}}";

/// Connection instruments, registered by the composition root.
#[derive(Clone)]
pub struct ConnectionMetrics {
    /// `http_connections_open`.
    pub open: IntGauge,
    /// `http_connections_refused_total`.
    pub refused: IntCounter,
    /// `http_connections_timed_out_total`.
    pub timed_out: IntCounter,
}

/// Open connections, and a wake-up when the last one closes.
#[derive(Default)]
struct Census {
    open: AtomicUsize,
    drained: Notify,
}

/// Decrements the census (and the gauge) when a connection task ends, however it ends.
struct Counted {
    census: Arc<Census>,
    gauge: IntGauge,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.gauge.dec();
        if self.census.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.census.drained.notify_waiters();
        }
    }
}

/// Serves `ep` on `acceptor` until `shutdown` resolves; then stops accepting, answers new
/// requests on open connections with 503 + `Connection: close`, and lets every connection
/// finish its requests for up to `grace`.
///
/// `work` is the background work that must end before the process does (tutoring turns, whose
/// student may have gone): it is started with the moment the grace ends and must return soon
/// after it. When the grace ends with connections still open, they are cut only once `work`
/// returned (plus [`FLUSH_WINDOW`]), so a turn stopped at the end of the grace can still tell
/// its connected student.
///
/// # Errors
/// When accepting fails for a reason other than a single failed connection.
pub async fn serve<A, E, W, F>(
    mut acceptor: A,
    ep: E,
    edge: HttpEdgeConfig,
    metrics: ConnectionMetrics,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    work: W,
) -> std::io::Result<()>
where
    A: Acceptor,
    A::Io: Unpin,
    E: Endpoint + 'static,
    W: FnOnce(Instant) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    // Type-erased once: each request then polls one boxed future instead of the whole stack's.
    let ep: Arc<BoxEndpoint<'static>> = Arc::new(ep.map_to_response().boxed());
    let edge = Arc::new(edge);
    let census = Arc::new(Census::default());
    // `true` asks connections to finish gracefully; dropping `force` (after the grace) cuts them.
    let (draining, _) = watch::channel(false);
    let (force, _) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = acceptor.accept() => accepted,
        };
        let (io, local, remote, scheme) = match accepted {
            Ok(conn) => conn,
            // Out of descriptors or a transient accept error: back off instead of spinning.
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let open = census.open.fetch_add(1, Ordering::AcqRel) + 1;
        metrics.open.inc();
        let counted = Counted {
            census: census.clone(),
            gauge: metrics.open.clone(),
        };
        if edge.max_connections.is_some_and(|max| open > max) {
            metrics.refused.inc();
            tokio::spawn(refuse(io, counted));
            continue;
        }
        let conn = Conn {
            ep: ep.clone(),
            edge: edge.clone(),
            local,
            remote,
            scheme,
            timed_out: metrics.timed_out.clone(),
        };
        let draining = draining.subscribe();
        let force = force.subscribe();
        tokio::spawn(async move {
            let _counted = counted;
            conn.serve(io, draining, force).await;
        });
    }
    drop(acceptor);
    let _ = draining.send(true);
    let grace_ends = Instant::now() + grace;
    let work = tokio::spawn(work(grace_ends));
    let drained = |until: Instant| {
        let census = census.clone();
        async move {
            let all_closed = async {
                loop {
                    let notified = census.drained.notified();
                    if census.open.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    notified.await;
                }
            };
            tokio::time::timeout_at(until, all_closed).await.is_ok()
        }
    };
    let closed = drained(grace_ends).await;
    // Turns still running at the end of the grace are stopped by `work`, which returns once they
    // stored what they could and told their students; their streams then end by themselves.
    if let Err(e) = work.await {
        tracing::error!(error = %e, "shutdown work failed");
    }
    if !closed && !drained(Instant::now() + FLUSH_WINDOW).await {
        tracing::warn!(
            open = census.open.load(Ordering::Acquire),
            "shutdown grace ended; closing the remaining connections"
        );
    }
    drop(force);
    Ok(())
}

/// The answer to a request that arrives on an open connection while the server drains: the
/// service's usual 503 error body, plus `Connection: close`.
fn shutting_down(version: poem::http::Version) -> poem::Response {
    use poem::IntoResponse;
    let mut resp = ApiError::unavailable_for(
        "shutting_down",
        "The server is restarting; retry.",
        Duration::from_secs(1),
    )
    .into_response();
    let headers = resp.headers_mut();
    headers.insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    // HTTP/2 has no `Connection` header: its GOAWAY says the same.
    if version < poem::http::Version::HTTP_2 {
        headers.insert(
            poem::http::header::CONNECTION,
            poem::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// Writes the 503 of a connection over the cap, then closes it.
async fn refuse<T: tokio::io::AsyncWrite + Unpin>(mut io: T, _counted: Counted) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        io.write_all(REFUSAL).await?;
        io.shutdown().await
    })
    .await;
}

/// One accepted connection and what it needs to serve requests.
struct Conn {
    ep: Arc<BoxEndpoint<'static>>,
    edge: Arc<HttpEdgeConfig>,
    local: LocalAddr,
    remote: RemoteAddr,
    scheme: poem::http::uri::Scheme,
    timed_out: IntCounter,
}

impl Conn {
    async fn serve<T>(
        self,
        io: T,
        mut draining: watch::Receiver<bool>,
        mut force: watch::Receiver<()>,
    ) where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let activity = Activity::new();
        let edge = self.edge.clone();
        let timed_out = self.timed_out.clone();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .keep_alive(true)
            .timer(HeadTimer::new(activity.clone(), edge.header_read_timeout))
            .header_read_timeout(edge.header_read_timeout);
        builder
            .http2()
            .max_concurrent_streams(edge.http2_max_concurrent_streams)
            .max_pending_accept_reset_streams(H2_MAX_PENDING_RESETS)
            .max_header_list_size(H2_MAX_HEADER_LIST);
        // Each request goes to the poem endpoint; its response body holds the request's
        // in-flight mark until the body is sent or dropped.
        let service = {
            let (ep, local, remote, scheme) = (
                self.ep.clone(),
                self.local.clone(),
                self.remote.clone(),
                self.scheme.clone(),
            );
            let activity = activity.clone();
            let shutting = draining.clone();
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let ep = ep.clone();
                let draining = *shutting.borrow();
                let version = req.version();
                let req = poem::Request::from((req, local.clone(), remote.clone(), scheme.clone()));
                let guard = activity.start_request();
                async move {
                    let resp = if draining {
                        shutting_down(version)
                    } else {
                        ep.get_response(req).await
                    };
                    let resp: hyper::Response<_> = resp.into();
                    Ok::<_, Infallible>(resp.map(move |body| {
                        body.map_frame(move |frame| {
                            let _ = &guard;
                            frame
                        })
                    }))
                }
            })
        };
        let conn = builder.serve_connection_with_upgrades(
            TokioIo::new(Tracked::new(io, activity.clone())),
            service,
        );
        tokio::pin!(conn);
        let mut closing = false;
        let mut drain_since = None;
        loop {
            // While draining, a connection stays open until it has been idle for DRAIN_LINGER:
            // a request it receives meanwhile (one the client sent as the shutdown began, say)
            // is answered 503 + `Connection: close` (see `shutting_down`) instead of meeting a
            // closed socket.
            let now = Instant::now();
            if let Some(since) = drain_since
                && !closing
                && activity.in_flight() == 0
                && now >= activity.last_io().max(since) + DRAIN_LINGER
            {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            let mut check_at = next_check(&activity, &edge, now);
            if drain_since.is_some() && !closing {
                check_at = check_at.min(now + DRAIN_POLL);
            }
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = force.changed() => return,
                _ = draining.changed(), if drain_since.is_none() => drain_since = Some(Instant::now()),
                () = tokio::time::sleep_until(check_at) => {
                    match verdict(&activity, &edge, Instant::now()) {
                        Verdict::Fine => {}
                        Verdict::Idle if !closing => {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        Verdict::Idle => {}
                        Verdict::Cut(why) => {
                            timed_out.inc();
                            tracing::debug!(remote = %self.remote, why, "connection closed");
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// What the watchdog found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing to do.
    Fine,
    /// Idle between requests: close once nothing is in flight.
    Idle,
    /// Close now.
    Cut(&'static str),
}

fn verdict(activity: &Activity, edge: &HttpEdgeConfig, now: Instant) -> Verdict {
    if activity.requests() == 0 && now >= activity.opened() + edge.header_read_timeout {
        return Verdict::Cut("no request head within the header-read timeout");
    }
    if activity
        .write_blocked_since()
        .is_some_and(|since| now >= since + edge.idle_timeout)
    {
        return Verdict::Cut("the peer stopped reading");
    }
    if activity.in_flight() == 0 && now >= activity.last_io() + edge.idle_timeout {
        return Verdict::Idle;
    }
    Verdict::Fine
}

/// When the watchdog should look again: the earliest moment a verdict could change.
fn next_check(activity: &Activity, edge: &HttpEdgeConfig, now: Instant) -> Instant {
    // With a request in flight nothing may be due; its end moves `last_io`, so look again then.
    let mut at = now + edge.idle_timeout;
    if activity.requests() == 0 {
        at = at.min(activity.opened() + edge.header_read_timeout);
    }
    if let Some(since) = activity.write_blocked_since() {
        at = at.min(since + edge.idle_timeout);
    }
    if activity.in_flight() == 0 {
        at = at.min(activity.last_io() + edge.idle_timeout);
    }
    // A deadline already acted on (a graceful close under way) is not re-checked in a busy loop.
    if at <= now {
        now + Duration::from_secs(1)
    } else {
        at
    }
}

#[cfg(test)]
mod tests;
