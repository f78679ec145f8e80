//! The background side of the health state: going down and up, the `PING` that confirms a
//! timeout, and the probe that runs while Redis is down.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::{Inner, is_outage, is_slow};

impl Inner {
    pub(super) fn mark_down(self: &Arc<Self>, reason: &str) {
        if self.up.send_replace(false) {
            self.up_gauge.set(0);
            *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            tracing::warn!(reason, "Redis unreachable; using in-process fallbacks");
        }
        self.start_probing();
    }

    pub(super) fn mark_up(&self) {
        if !self.up.send_replace(true) {
            self.up_gauge.set(1);
            let since = self
                .down_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let down_ms = since.map_or(0, |s| s.elapsed().as_millis());
            tracing::info!(down_ms, "Redis is back");
        }
    }

    /// Checks a timeout with one `PING` in the background (unless one is under way already):
    /// unanswered within the probe timeout, Redis is down.
    pub(super) fn confirm(self: &Arc<Self>) {
        if !*self.up.borrow() || self.confirming.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.confirming.store(false, Ordering::Release);
            return;
        };
        let inner = self.clone();
        runtime.spawn(async move {
            if !inner.link.is_connected() {
                // A PING would only queue behind the connection, as the call did.
                inner.mark_down("disconnected");
                inner.confirming.store(false, Ordering::Release);
                return;
            }
            match tokio::time::timeout(inner.probe_timeout, inner.link.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if !is_outage(e.kind()) && !is_slow(e.kind()) => {}
                Ok(Err(e)) => inner.mark_down(&format!("{:?}", e.kind())),
                Err(_) => inner.mark_down("timed out"),
            }
            inner.confirming.store(false, Ordering::Release);
        });
    }

    /// Starts the probe task unless one runs.
    fn start_probing(self: &Arc<Self>) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.probing.store(false, Ordering::Release);
            return;
        };
        // Weak: a client dropped during an outage takes its probe with it.
        runtime.spawn(probe_until_up(Arc::downgrade(self)));
    }
}

/// Pings every interval while Redis is down; ends once it is up (or the client is gone).
async fn probe_until_up(health: Weak<Inner>) {
    loop {
        let Some(interval) = health.upgrade().map(|h| h.interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(inner) = health.upgrade() else {
            return;
        };
        if inner.closed.load(Ordering::Acquire) {
            inner.probing.store(false, Ordering::Release);
            return;
        }
        if !*inner.up.borrow() {
            // While the client reconnects, a PING would only queue behind the reconnection;
            // fred retries the connection by itself, so wait for it instead.
            if !inner.link.is_connected() {
                continue;
            }
            inner.seen_connected.store(true, Ordering::Release);
            match tokio::time::timeout(inner.probe_timeout, inner.link.ping()).await {
                Ok(Ok(())) => inner.mark_up(),
                _ => continue,
            }
        }
        inner.probing.store(false, Ordering::Release);
        // Down again between the answer and the flag: this task carries on probing.
        if *inner.up.borrow() || inner.probing.swap(true, Ordering::AcqRel) {
            return;
        }
    }
}
