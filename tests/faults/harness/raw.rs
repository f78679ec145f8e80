//! A bare HTTP/1.1 keep-alive connection, to see what a request on an already-open connection
//! gets while the service drains (reqwest would silently open a new one).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response head: status and lower-cased headers.
#[derive(Debug)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One client connection kept open between requests.
pub struct KeepAlive {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl KeepAlive {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            stream: TcpStream::connect(addr).await?,
            host: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// `GET path` as `user` on this connection; the head of the answer, its body read.
    pub async fn get(&mut self, path: &str, user: &str) -> Result<Head, String> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nx-user-id: {user}\r\n\r\n",
            self.host
        );
        tokio::time::timeout(Duration::from_secs(5), async {
            self.stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            let end = loop {
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break end;
                }
                self.fill().await?;
            };
            let head_text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.buf.drain(..end + 4);
            let mut lines = head_text.split("\r\n");
            let status = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad status line in {head_text:?}"))?;
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let head = Head { status, headers };
            if head.header("transfer-encoding") == Some("chunked") {
                self.skip_chunks().await?;
            } else {
                let length: usize = head
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < length {
                    self.fill().await?;
                }
                self.buf.drain(..length);
            }
            Ok(head)
        })
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
    }

    /// Reads a chunked body to its end (no trailers expected).
    async fn skip_chunks(&mut self) -> Result<(), String> {
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {line:?}"))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            self.buf.drain(..size + 2);
            if size == 0 {
                return Ok(());
            }
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) => Err("connection closed by the service".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }
}
