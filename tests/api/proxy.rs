//! A loopback TCP proxy that a test can cut, blackhole and restore, to take a dependency "down".

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

pub struct TcpProxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    /// False while blackholed: links stay open but carry nothing.
    flowing: watch::Sender<bool>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let flowing = watch::Sender::new(true);
        let (open2, links2, flowing2) = (open.clone(), links.clone(), flowing.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropping the socket refuses the connection
                }
                let flowing = flowing2.clone();
                let link = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (from_client, to_client) = inbound.into_split();
                        let (from_server, to_server) = outbound.into_split();
                        tokio::join!(
                            pipe(from_client, to_server, flowing.subscribe()),
                            pipe(from_server, to_client, flowing.subscribe()),
                        );
                    }
                });
                links2.lock().expect("links lock").push(link.abort_handle());
            }
        });
        Self {
            addr,
            open,
            links,
            flowing,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links lock").drain(..) {
            link.abort();
        }
    }

    /// Keeps every connection open (and accepts new ones) but carries nothing either way, like
    /// a network that drops packets; what was sent meanwhile arrives once restored.
    pub fn blackhole(&self) {
        self.flowing.send_replace(false);
    }

    /// Accepts connections and carries data again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.flowing.send_replace(true);
    }
}

/// Copies one direction of a link, holding the data while blackholed.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut flowing: watch::Receiver<bool>) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if flowing.wait_for(|f| *f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
