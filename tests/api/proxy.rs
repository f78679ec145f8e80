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
    /// Armed by [`TcpProxy::lose_answer_to`].
    trap: Trap,
}

/// Bytes that, once a client sends them, make their link carry nothing back any more.
type Trap = Arc<Mutex<Option<Vec<u8>>>>;

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let flowing = watch::Sender::new(true);
        let trap: Trap = Arc::new(Mutex::new(None));
        let (open2, links2, flowing2, trap2) =
            (open.clone(), links.clone(), flowing.clone(), trap.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropping the socket refuses the connection
                }
                let flowing = flowing2.clone();
                let trap = trap2.clone();
                let link = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (from_client, to_client) = inbound.into_split();
                        let (from_server, to_server) = outbound.into_split();
                        let deaf = Arc::new(AtomicBool::new(false));
                        let upstream = Direction::Up(trap, deaf.clone());
                        tokio::join!(
                            pipe(from_client, to_server, flowing.subscribe(), upstream),
                            pipe(
                                from_server,
                                to_client,
                                flowing.subscribe(),
                                Direction::Down(deaf)
                            ),
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
            trap,
        }
    }

    /// The next client message holding `marker` still reaches the server (which acts on it),
    /// but from then on its connection carries nothing back: a link that breaks between a write
    /// and its answer. The link must be in plain text (e.g. Postgres with `sslmode=disable`).
    pub fn lose_answer_to(&self, marker: &[u8]) {
        *self.trap.lock().expect("trap lock") = Some(marker.to_vec());
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

/// Which way a pipe copies, with what it needs for [`TcpProxy::lose_answer_to`].
enum Direction {
    /// Client to server: springs the trap, deafening the link.
    Up(Trap, Arc<AtomicBool>),
    /// Server to client: drops everything once the link is deaf.
    Down(Arc<AtomicBool>),
}

/// Copies one direction of a link, holding the data while blackholed.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
    direction: Direction,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match &direction {
            Direction::Up(trap, deaf) => {
                let mut trap = trap.lock().expect("trap lock");
                let sprung = trap
                    .as_ref()
                    .is_some_and(|m| buf[..n].windows(m.len()).any(|w| w == m.as_slice()));
                if sprung {
                    *trap = None;
                    deaf.store(true, Ordering::SeqCst);
                }
            }
            Direction::Down(deaf) if deaf.load(Ordering::SeqCst) => continue,
            Direction::Down(_) => {}
        }
        if flowing.wait_for(|f| *f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
