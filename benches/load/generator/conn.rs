//! One client connection: bind a loopback source address, connect, HTTP/1.1 handshake (hyper),
//! send a prepared request, and read a plain body or a ChatKit SSE stream.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

use super::RequestSpec;

/// Time allowed to open one TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one request (or stream) failed; `Display` is the error kind shown in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// TCP connect refused, unreachable or too slow.
    Connect,
    /// The request (or whole stream) outlived its time limit.
    Timeout,
    /// The connection was closed or reset before an answer.
    Closed,
    /// The answer's status was not 2xx.
    Status(u16),
    /// A plain body broke off.
    Body,
    /// An SSE stream broke off (connection reset, truncated chunked body).
    StreamCut,
    /// An SSE stream ended cleanly but without a finished assistant message.
    StreamIncomplete,
    /// The service sent a ChatKit `error` event.
    StreamErrorEvent,
    /// A held stream ended (cleanly) before the hold was over.
    EndedEarly,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("connect"),
            Self::Timeout => f.write_str("timeout"),
            Self::Closed => f.write_str("closed before answer"),
            Self::Status(code) => write!(f, "status {code}"),
            Self::Body => f.write_str("body cut"),
            Self::StreamCut => f.write_str("stream cut"),
            Self::StreamIncomplete => f.write_str("stream incomplete"),
            Self::StreamErrorEvent => f.write_str("stream error event"),
            Self::EndedEarly => f.write_str("stream ended early"),
        }
    }
}

/// A request parsed once per connection and cloned for every send.
#[derive(Debug, Clone)]
pub struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Prepared {
    /// Validates `spec` with the `Host` header and the identity headers.
    ///
    /// # Errors
    /// A method, path or header that is not valid HTTP.
    pub fn new(
        spec: &RequestSpec,
        host: &str,
        identity: &[(String, String)],
    ) -> Result<Self, String> {
        let method = Method::from_bytes(spec.method.as_bytes())
            .map_err(|e| format!("method {:?}: {e}", spec.method))?;
        let uri: Uri = spec
            .path
            .parse()
            .map_err(|e| format!("path {:?}: {e}", spec.path))?;
        let mut headers = HeaderMap::new();
        let value = |v: &str| HeaderValue::from_str(v).map_err(|e| format!("header value: {e}"));
        headers.insert(HOST, value(host)?);
        if spec.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, v) in identity {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("header name {name:?}: {e}"))?;
            headers.insert(name, value(v)?);
        }
        Ok(Self {
            method,
            uri,
            headers,
            body: Bytes::from(spec.body.clone().unwrap_or_default()),
        })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// An open keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// Opens a connection to `addr`, from `source` when given (bound before connecting, so client
/// sockets spread over several loopback addresses and their ephemeral ports).
///
/// # Errors
/// Any socket, bind, connect or handshake failure, or the connect timeout.
pub async fn connect(addr: SocketAddr, source: Option<Ipv4Addr>) -> std::io::Result<Conn> {
    let attempt = async {
        let socket = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip.into(), 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        // The connection future drives the socket; it ends when either side closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn { sender })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))?
}

impl Conn {
    /// Whether the service closed this connection (the next request needs a new one).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends the request and waits for the status line and headers.
    ///
    /// # Errors
    /// [`Failure::Closed`] when the connection is gone.
    pub async fn send(&mut self, prepared: &Prepared) -> Result<Response<Incoming>, Failure> {
        self.sender.ready().await.map_err(|_| Failure::Closed)?;
        self.sender
            .send_request(prepared.request())
            .await
            .map_err(|_| Failure::Closed)
    }
}

/// Reads a plain body to its end; returns its bytes when `keep` (else only drains it).
///
/// # Errors
/// [`Failure::Body`] when the body breaks off.
pub async fn read_body(body: &mut Incoming, keep: bool) -> Result<Vec<u8>, Failure> {
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failure::Body)?;
        if let (true, Some(data)) = (keep, frame.data_ref()) {
            kept.extend_from_slice(data);
        }
    }
    Ok(kept)
}

/// Incremental reader of an SSE body: counts `data:` events and comments and remembers the
/// ChatKit event types that tell whether a turn finished.
#[derive(Debug, Default)]
pub struct SseScan {
    buf: Vec<u8>,
    scanned: usize,
    /// `data:` events seen.
    pub events: u64,
    /// Comment frames (`: keep-alive`) seen.
    pub comments: u64,
    /// `thread.item.done` events seen.
    pub items_done: u64,
    /// Whether an `error` event was seen.
    pub error_event: bool,
    last_type: String,
}

impl SseScan {
    /// Feeds a chunk; returns how many `data:` events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> u64 {
        self.buf.extend_from_slice(chunk);
        let before = self.events;
        let mut start = 0;
        let mut from = self.scanned;
        while let Some(pos) = find_blank_line(&self.buf[from..]) {
            let end = from + pos;
            self.classify(start, end);
            start = end + 2;
            from = start;
        }
        self.buf.drain(..start);
        // A frame boundary can straddle two chunks: rescan the last byte next time.
        self.scanned = self.buf.len().saturating_sub(1);
        self.events - before
    }

    fn classify(&mut self, start: usize, end: usize) {
        let frame = &self.buf[start..end];
        if let Some(json) = frame.strip_prefix(b"data: ") {
            self.events += 1;
            let kind = json
                .strip_prefix(br#"{"type":""#)
                .and_then(|rest| rest.split(|b| *b == b'"').next())
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            match kind.as_str() {
                "error" => self.error_event = true,
                "thread.item.done" => self.items_done += 1,
                _ => {}
            }
            self.last_type = kind;
        } else if frame.starts_with(b":") {
            self.comments += 1;
        }
    }

    /// Whether the stream so far is a finished turn: the student's and the assistant's items
    /// done, no error event, and a closing event last (ChatKit has no end sentinel).
    pub fn finished_turn(&self) -> bool {
        !self.error_event
            && self.items_done >= 2
            && matches!(
                self.last_type.as_str(),
                "thread.item.done" | "thread.updated"
            )
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\n\n")
}

/// Opens a fresh connection, sends one request and reads the whole answer: for set-up work
/// (prechecks, seeding), not for measuring.
///
/// # Errors
/// The failure kind with its cause.
pub async fn fetch(
    addr: SocketAddr,
    spec: &RequestSpec,
    host: &str,
    identity: &[(String, String)],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let prepared = Prepared::new(spec, host, identity)?;
    let work = async {
        let mut conn = connect(addr, None)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let resp = conn.send(&prepared).await.map_err(|f| f.to_string())?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let bytes = read_body(&mut body, true)
            .await
            .map_err(|f| f.to_string())?;
        Ok((status, bytes))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}
