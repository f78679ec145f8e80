//! Connections to the model provider. A tutoring stream stays open for the whole answer, and
//! an HTTP/2 connection carries at most the streams its server allows (often 100); hyper's
//! pool never opens a second connection to the same host, so more concurrent turns than that
//! would wait for a slot. This pool keeps several HTTP clients, each carrying at most
//! `streams_per_client` streams at once, and opens another client when all are full — so an
//! HTTP/2 provider sees one connection per that many streams (two sockets per turn become
//! about one). Over HTTP/1.1 one client serves every stream, one connection each, as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;

use crate::config::ModelHttpVersion;

/// Fail fast when the provider is unreachable, leaving the rest of the turn's budget to retries.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP clients for the model, each leased to at most a fixed number of streams at a time.
#[derive(Debug)]
pub struct ClientPool {
    version: ModelHttpVersion,
    streams_per_client: usize,
    clients: Mutex<Vec<Arc<Slot>>>,
}

#[derive(Debug)]
struct Slot {
    client: reqwest::Client,
    streams: AtomicUsize,
}

/// One stream's hold on a client; the slot is free again when this is dropped.
#[derive(Debug)]
pub struct Lease {
    slot: Arc<Slot>,
}

impl Lease {
    /// The client to send this stream's request with.
    pub fn client(&self) -> &reqwest::Client {
        &self.slot.client
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ClientPool {
    /// A pool whose first client is built at once, so a bad setting fails at start-up.
    ///
    /// `https` says whether the provider is reached over TLS: only then can `Auto` negotiate
    /// HTTP/2. Over HTTP/1.1 a connection carries one stream and one client opens as many
    /// connections as it needs, so the cap applies only where streams may share a connection
    /// (each extra client would carry its own TLS set-up and pool for nothing).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        version: ModelHttpVersion,
        streams_per_client: usize,
        https: bool,
    ) -> anyhow::Result<Self> {
        crate::adapters::ensure_tls_provider();
        let multiplexed = match version {
            ModelHttpVersion::Http1 => false,
            ModelHttpVersion::Http2 => true,
            ModelHttpVersion::Auto => https,
        };
        let first = Arc::new(Slot {
            client: build_client(version)?,
            streams: AtomicUsize::new(0),
        });
        Ok(Self {
            version,
            streams_per_client: if multiplexed {
                streams_per_client.max(1)
            } else {
                usize::MAX
            },
            clients: Mutex::new(vec![first]),
        })
    }

    /// A client with room for one more stream, opening a new one when every client is full.
    ///
    /// # Errors
    /// When a new client is needed and cannot be built.
    pub fn lease(&self) -> anyhow::Result<Lease> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in clients.iter() {
            let taken = slot
                .streams
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.streams_per_client).then_some(n + 1)
                });
            if taken.is_ok() {
                return Ok(Lease {
                    slot: Arc::clone(slot),
                });
            }
        }
        let slot = Arc::new(Slot {
            client: build_client(self.version)?,
            streams: AtomicUsize::new(1),
        });
        clients.push(Arc::clone(&slot));
        tracing::debug!(
            clients = clients.len(),
            "every model connection is full; opened another"
        );
        Ok(Lease { slot })
    }

    /// Clients kept (each holds its own connections).
    pub fn clients(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn build_client(version: ModelHttpVersion) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // An API endpoint has no business redirecting; following one could carry the key
        // to a host nobody configured.
        .redirect(reqwest::redirect::Policy::none());
    let builder = match version {
        // HTTPS offers h2 and http/1.1 through ALPN; plain http speaks HTTP/1.1.
        ModelHttpVersion::Auto => builder,
        ModelHttpVersion::Http1 => builder.http1_only(),
        // Also over plain http (h2c with prior knowledge), e.g. a local gateway.
        ModelHttpVersion::Http2 => builder.http2_prior_knowledge(),
    };
    builder.build().context("build the tutor model HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_client_makes_the_pool_open_another_and_a_freed_slot_is_reused() {
        let pool = ClientPool::new(ModelHttpVersion::Http2, 2, false).expect("pool");
        let a = pool.lease().expect("lease");
        let b = pool.lease().expect("lease");
        assert_eq!(pool.clients(), 1, "two streams fit the first client");
        let c = pool.lease().expect("lease");
        assert_eq!(pool.clients(), 2, "the third stream needs another client");
        drop(a);
        let d = pool.lease().expect("lease");
        assert_eq!(
            pool.clients(),
            2,
            "the freed slot of the first client is reused"
        );
        drop((b, c, d));
    }

    #[test]
    fn streams_that_cannot_share_a_connection_all_use_one_client() {
        for (version, https) in [
            (ModelHttpVersion::Http1, true),
            (ModelHttpVersion::Auto, false),
        ] {
            let pool = ClientPool::new(version, 2, https).expect("pool");
            let leases: Vec<_> = (0..5).map(|_| pool.lease().expect("lease")).collect();
            assert_eq!(pool.clients(), 1, "{version:?}, https {https}");
            drop(leases);
        }
        let pool = ClientPool::new(ModelHttpVersion::Auto, 2, true).expect("pool");
        let leases: Vec<_> = (0..3).map(|_| pool.lease().expect("lease")).collect();
        assert_eq!(pool.clients(), 2, "HTTPS may negotiate HTTP/2: capped");
        drop(leases);
    }

    #[test]
    fn every_version_builds_a_client() {
        for version in [
            ModelHttpVersion::Auto,
            ModelHttpVersion::Http1,
            ModelHttpVersion::Http2,
        ] {
            assert!(ClientPool::new(version, 100, true).is_ok(), "{version:?}");
        }
    }
}
