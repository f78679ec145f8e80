//! A fake OpenAI-compatible model on 127.0.0.1: `POST /v1/chat/completions` answers an SSE
//! stream of `tokens` text deltas, `interval` apart (the first at once; 0 = the whole answer in
//! one write), then the usage chunk and `[DONE]`, like the provider's streaming API. It also
//! serves the harness' JWKS at `/jwks.json` for `--auth jwt`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{Data, LocalAddr, RemoteAddr};
use poem::{Body, EndpointExt, Response, Route, get, handler, post};

use crate::auth;
use crate::error::HarnessError;

/// The last delta carries the answer marker, so the service's marker filter is exercised.
const LAST_TOKEN: &str = "B) right\n[[CORRECT:B]]";

/// Streams the fake model lets one HTTP/2 connection carry (the service's
/// `MODEL_STREAMS_PER_CONNECTION` may not exceed it).
const MAX_STREAMS_PER_CONNECTION: u32 = 10_000;

const TAIL: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n";

/// What the fake model streams.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    /// Text deltas per answer.
    pub tokens: usize,
    /// Pause between two deltas.
    pub interval: Duration,
}

#[derive(Clone)]
struct State {
    chunks: Arc<Vec<Bytes>>,
    whole: Bytes,
    interval: Duration,
    requests: Arc<AtomicU64>,
}

/// A running fake model; stops accepting when dropped.
pub struct FakeModel {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Completions requested so far.
    pub requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeModel {
    /// `OPENAI_BASE_URL` for the service.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `JWKS_URL` for the service.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn chunk(text: &str) -> Bytes {
    let body = serde_json::json!({"choices":[{"index":0,"delta":{"content":text}}]});
    Bytes::from(format!("data: {body}\n\n"))
}

#[handler]
async fn completions(state: Data<&State>, _request: Bytes) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let body = if state.interval.is_zero() {
        Body::from_bytes(state.whole.clone())
    } else {
        let chunks = state.chunks.clone();
        let interval = state.interval;
        let stream = futures::stream::unfold(0usize, move |i| {
            let chunks = chunks.clone();
            async move {
                let next = chunks.get(i)?.clone();
                if i > 0 {
                    tokio::time::sleep(interval).await;
                }
                Some((Ok::<Bytes, std::io::Error>(next), i + 1))
            }
        });
        Body::from_bytes_stream(stream)
    };
    Response::builder()
        .content_type("text/event-stream")
        .body(body)
}

#[handler]
fn jwks() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(auth::JWKS_JSON)
}

/// Accepts like poem's TCP acceptor but turns Nagle's algorithm off on every connection, so
/// the fake's small SSE writes are not held back waiting for the service's delayed ACKs: the
/// model must add no latency of its own.
struct NoDelay(TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let accepted = self.0.accept().await?;
        accepted.0.set_nodelay(true)?;
        Ok(accepted)
    }
}

/// Starts the fake model on `127.0.0.1:port` (0 = a free port).
///
/// # Errors
/// When the port cannot be bound.
pub async fn start(script: Script, port: u16) -> Result<FakeModel, HarnessError> {
    let mut chunks: Vec<Bytes> = (0..script.tokens.saturating_sub(1))
        .map(|i| chunk(&format!("word{i} ")))
        .collect();
    chunks.push(chunk(LAST_TOKEN));
    chunks.push(Bytes::from_static(TAIL.as_bytes()));
    let whole = Bytes::from(
        chunks
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect::<Vec<u8>>(),
    );
    let requests = Arc::new(AtomicU64::new(0));
    let state = State {
        chunks: Arc::new(chunks),
        whole,
        interval: script.interval,
        requests: requests.clone(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| HarnessError::child("fake model", format!("bind port {port}: {e}")))?;
    let addr = listener.local_addr()?;
    let acceptor = NoDelay(poem::listener::TcpAcceptor::from_tokio(listener)?);
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .at("/jwks.json", get(jwks))
        .data(state);
    let task = tokio::spawn(async move {
        // HTTP/1.1, or HTTP/2 with prior knowledge (MODEL_HTTP_VERSION=http2) carrying as many
        // streams per connection as the service's MODEL_STREAMS_PER_CONNECTION asks for.
        let server = poem::Server::new_with_acceptor(acceptor)
            .http2_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
        if let Err(e) = server.run(app).await {
            eprintln!("load: the fake model stopped: {e}");
        }
    });
    Ok(FakeModel {
        addr,
        requests,
        task,
    })
}
