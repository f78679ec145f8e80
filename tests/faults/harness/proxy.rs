//! A loopback TCP proxy in front of Postgres or Redis that a test can cut, reset, blackhole and
//! restore, for links already open as well as new ones.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How open links end when their generation is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// FIN to both peers, as a dying middlebox or a stopped server does.
    Close,
    /// RST to both peers (`SO_LINGER` 0), as a failover or a conntrack flush does.
    Reset,
}

#[derive(Debug, Clone, Copy)]
struct Control {
    /// New connections are refused (RST right after the accept).
    refuse: bool,
    /// Nothing is forwarded in either direction; new links wait before reaching the target.
    blackhole: bool,
    /// Links opened in an earlier generation end.
    generation: u64,
    ending: Ending,
}

/// A proxy from `addr` to a target; stops when dropped.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    control: watch::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

impl FaultProxy {
    /// Starts forwarding 127.0.0.1:(free port) to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (control, _) = watch::channel(Control {
            refuse: false,
            blackhole: false,
            generation: 0,
            ending: Ending::Close,
        });
        let tx = control.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let now = *tx.borrow();
                if now.refuse {
                    let _ = inbound.set_zero_linger();
                    continue;
                }
                let _ = inbound.set_nodelay(true);
                tokio::spawn(link(inbound, target, tx.subscribe(), now.generation));
            }
        });
        Self {
            addr,
            control,
            task,
        }
    }

    /// The URL `url` rewritten to go through this proxy.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("URL");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.addr.port())).expect("port");
        url.to_string()
    }

    /// Closes every open link (FIN both ways) and refuses new connections.
    pub fn cut(&self) {
        self.control.send_modify(|c| {
            c.refuse = true;
            c.blackhole = false;
            c.generation += 1;
            c.ending = Ending::Close;
        });
    }

    /// Resets every open link (RST both ways) and keeps accepting new ones.
    pub fn reset(&self) {
        self.control.send_modify(|c| {
            c.generation += 1;
            c.ending = Ending::Reset;
        });
    }

    /// Keeps every link, open and new, but forwards nothing until [`FaultProxy::restore`]:
    /// bytes sent meanwhile are held (as TCP retransmits them) and delivered afterwards.
    pub fn blackhole(&self) {
        self.control.send_modify(|c| c.blackhole = true);
    }

    /// Forwards and accepts again.
    pub fn restore(&self) {
        self.control.send_modify(|c| {
            c.refuse = false;
            c.blackhole = false;
        });
    }
}

/// Resolves once the generation `born` is ended; returns how.
async fn ended(control: &mut watch::Receiver<Control>, born: u64) -> Ending {
    loop {
        let now = *control.borrow_and_update();
        if now.generation != born {
            return now.ending;
        }
        if control.changed().await.is_err() {
            return Ending::Close;
        }
    }
}

/// Resolves once nothing is blackholed.
async fn flowing(control: &mut watch::Receiver<Control>) {
    let _ = control.wait_for(|c| !c.blackhole).await;
}

async fn link(
    inbound: TcpStream,
    target: SocketAddr,
    control: watch::Receiver<Control>,
    born: u64,
) {
    let mut watcher = control.clone();
    let mut gate = control.clone();
    let connect = async {
        flowing(&mut gate).await;
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await
    };
    let outbound = tokio::select! {
        how = ended(&mut watcher, born) => {
            finish(&[&inbound], how);
            return;
        }
        out = connect => match out {
            Ok(Ok(out)) => out,
            _ => {
                let _ = inbound.set_zero_linger();
                return;
            }
        },
    };
    let _ = outbound.set_nodelay(true);
    let (mut in_read, mut in_write) = inbound.into_split();
    let (mut out_read, mut out_write) = outbound.into_split();
    let how = {
        let up = pump(&mut in_read, &mut out_write, control.clone());
        let down = pump(&mut out_read, &mut in_write, control.clone());
        tokio::select! {
            how = ended(&mut watcher, born) => Some(how),
            _ = up => None,
            _ = down => None,
        }
    };
    finish(
        &[in_read.as_ref(), out_read.as_ref()],
        how.unwrap_or(Ending::Close),
    );
}

fn finish(sockets: &[&TcpStream], how: Ending) {
    if how == Ending::Reset {
        for socket in sockets {
            let _ = socket.set_zero_linger();
        }
    }
}

async fn pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    mut control: watch::Receiver<Control>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        flowing(&mut control).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        flowing(&mut control).await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
