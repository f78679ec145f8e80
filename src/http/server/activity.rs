//! What one connection is doing, as the server's timeouts need to see it: when bytes last moved,
//! how many requests it has started and finished, and whether the peer has stopped reading.
//!
//! The socket wrapper [`Tracked`] records reads and writes; the service records requests; the
//! connection task and the HTTP/1.1 head timer ([`HeadTimer`]) read it all back.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// `write_blocked_at` value while writes are flowing.
const NOT_BLOCKED: u64 = u64::MAX;

/// Counters and times of one connection; times are milliseconds since `opened`.
pub struct Activity {
    opened: Instant,
    last_io: AtomicU64,
    reads: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    write_blocked_at: AtomicU64,
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            last_io: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            write_blocked_at: AtomicU64::new(NOT_BLOCKED),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// When the connection was accepted.
    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// When bytes last moved in either direction (the accept, if never).
    pub fn last_io(&self) -> Instant {
        self.at(self.last_io.load(Ordering::Relaxed))
    }

    /// Reads that returned data so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Requests whose head was parsed.
    pub fn requests(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Requests whose response is still being produced or sent.
    pub fn in_flight(&self) -> u64 {
        self.requests()
            .saturating_sub(self.finished.load(Ordering::Relaxed))
    }

    /// Since when the peer has accepted none of our bytes, if it is not reading.
    pub fn write_blocked_since(&self) -> Option<Instant> {
        match self.write_blocked_at.load(Ordering::Relaxed) {
            NOT_BLOCKED => None,
            ms => Some(self.at(ms)),
        }
    }

    /// Marks a request as started; the guard marks it finished when its response is dropped.
    pub fn start_request(self: &Arc<Self>) -> RequestGuard {
        self.started.fetch_add(1, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    fn touched(&self) {
        self.last_io.store(self.now_ms(), Ordering::Relaxed);
    }
}

/// Held by a response body: the request counts as in flight until the body is sent or dropped.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
        self.0.touched();
    }
}

/// A socket that records its traffic in an [`Activity`].
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.reads.fetch_add(1, Ordering::Relaxed);
            self.activity.touched();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> Tracked<T> {
    fn record_write(&self, polled: &Poll<io::Result<usize>>) {
        let activity = &self.activity;
        match polled {
            Poll::Ready(Ok(n)) if *n > 0 => {
                activity
                    .write_blocked_at
                    .store(NOT_BLOCKED, Ordering::Relaxed);
                activity.touched();
            }
            Poll::Pending => {
                // The first refusal starts the stall clock; later ones keep it.
                let _ = activity.write_blocked_at.compare_exchange(
                    NOT_BLOCKED,
                    activity.now_ms(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            _ => {}
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.record_write(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.record_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's HTTP/1.1 header-read timer, with the deadline this service wants.
///
/// hyper starts its timer whenever it waits for a request head, including the wait between two
/// requests of a kept-alive connection, so its own timer would close idle keep-alive connections
/// after the header timeout (and a load balancer's pooled connections with them). This timer
/// runs only once a head has started to arrive: the first request's head must be complete
/// `header` after the accept, every later one `header` after its first byte. Waiting for a first
/// byte is the connection watchdog's to bound (`server.rs`). hyper uses the HTTP/1.1 timer for
/// nothing else.
#[derive(Clone)]
pub struct HeadTimer {
    activity: Arc<Activity>,
    header: Duration,
}

impl HeadTimer {
    /// The timer of the connection that `activity` tracks.
    pub fn new(activity: Arc<Activity>, header: Duration) -> Self {
        Self { activity, header }
    }

    fn head_sleep(&self) -> HeadSleep {
        HeadSleep {
            timer: self.clone(),
            reads_at_start: self.activity.reads(),
            first_byte: None,
            sleep: None,
        }
    }
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, _duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.head_sleep())
    }

    fn sleep_until(&self, _deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.head_sleep())
    }
}

/// One wait for a request head; see [`HeadTimer`].
struct HeadSleep {
    timer: HeadTimer,
    reads_at_start: u64,
    first_byte: Option<Instant>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HeadSleep {
    /// The deadline of the head being read, once its first byte has come; before that the
    /// connection task's watchdog bounds the wait (accept to first request, idle keep-alive), so
    /// the common case (a head that arrives whole in one read) never touches the timer wheel.
    fn deadline(&mut self) -> Option<Instant> {
        let t = &self.timer;
        // hyper polls this after every read that left the head incomplete, so the first poll
        // that sees new reads is within a scheduler tick of the head's first byte.
        if self.first_byte.is_none() && t.activity.reads() != self.reads_at_start {
            self.first_byte = Some(Instant::now());
        }
        let first_byte = self.first_byte?;
        Some(if t.activity.requests() == 0 {
            t.activity.opened() + t.header
        } else {
            first_byte + t.header
        })
    }
}

impl std::future::Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // No byte of the head yet: nothing to time here (no waker is needed either: the first
        // byte wakes the connection, which polls this again).
        let Some(deadline) = self.deadline() else {
            return Poll::Pending;
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}
