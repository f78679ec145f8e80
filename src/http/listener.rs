//! The listening socket: `TCP_NODELAY` on every accepted connection (streams are many small
//! writes that Nagle's algorithm would hold back for the peer's delayed ACK), a deep accept
//! backlog, and optionally `SO_REUSEPORT` so several processes can share one port.

use std::net::SocketAddr;

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};

/// Pending connections the kernel queues before `accept` (capped by `net.core.somaxconn`).
const BACKLOG: u32 = 4_096;

/// A TCP acceptor that turns Nagle's algorithm off on every connection.
pub struct NoDelayAcceptor(TcpAcceptor);

impl NoDelayAcceptor {
    /// Binds `host:port`; with `reuse_port`, other processes may bind the same port and the
    /// kernel spreads connections across them.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind(host: &str, port: u16, reuse_port: bool) -> std::io::Result<Self> {
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))?;
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(reuse_port)?;
        #[cfg(not(unix))]
        if reuse_port {
            return Err(std::io::Error::other("REUSE_PORT needs a Unix system"));
        }
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG)?;
        Ok(Self(TcpAcceptor::from_tokio(listener)?))
    }

    /// The bound address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.0
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr())
            .copied()
    }
}

impl Acceptor for NoDelayAcceptor {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let accepted = self.0.accept().await?;
            // A connection reset before this call is the peer's problem, not the server's.
            match accepted.0.set_nodelay(true) {
                Ok(()) => return Ok(accepted),
                Err(err) => tracing::debug!(error = %err, "connection dropped before TCP_NODELAY"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let mut acceptor = NoDelayAcceptor::bind("127.0.0.1", 0, false).await.unwrap();
        let addr = acceptor.socket_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, ..) = acceptor.accept().await.unwrap();
        assert!(server.nodelay().unwrap());
        drop(client);
    }

    #[tokio::test]
    async fn two_listeners_share_a_port_with_reuse_port() {
        let first = NoDelayAcceptor::bind("127.0.0.1", 0, true).await.unwrap();
        let port = first.socket_addr().unwrap().port();
        assert!(NoDelayAcceptor::bind("127.0.0.1", port, true).await.is_ok());
        assert!(
            NoDelayAcceptor::bind("127.0.0.1", port, false)
                .await
                .is_err()
        );
    }
}
