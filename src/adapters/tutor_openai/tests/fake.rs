//! A fake OpenAI-compatible provider on 127.0.0.1, and builders of its event payloads.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use poem::http::StatusCode;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Body, Request, Response, Route, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(super) const KEY: &str = "sk-test-secret-key";

/// What the fake provider does with one request.
#[derive(Clone)]
pub(super) enum Reply {
    /// `200 text/event-stream` with these `data:` payloads, then the body ends.
    Events(Vec<String>),
    /// Like `Events`, then the body stays open without sending anything more.
    EventsThenStall(Vec<String>),
    /// A bare status with an optional `Retry-After`.
    Status(u16, Option<&'static str>),
    /// Accepts the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub(super) authorization: Option<String>,
    pub(super) body: serde_json::Value,
}

pub(super) struct Fake {
    pub(super) base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    pub(super) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

/// Starts a fake provider answering request number `n` (0-based) with `script(n)`.
pub(super) async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Fake {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let script = Arc::new(script);
    let endpoint = poem::endpoint::make(move |req: Request| {
        let seen = Arc::clone(&seen);
        let script = Arc::clone(&script);
        async move {
            let authorization = req
                .header("authorization")
                .map(std::string::ToString::to_string);
            let bytes = req.into_body().into_vec().await.expect("request body");
            let body = serde_json::from_slice(&bytes).expect("JSON request body");
            let n = {
                let mut seen = seen.lock().expect("lock");
                seen.push(Recorded {
                    authorization,
                    body,
                });
                seen.len() - 1
            };
            respond(script(n)).await
        }
    });
    let app = Route::new().at("/v1/chat/completions", poem::post(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let port = acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("tcp address")
        .port();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    Fake {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        requests,
    }
}

async fn respond(reply: Reply) -> Response {
    let sse = |events: Vec<String>, stall: bool| {
        let frames = events
            .into_iter()
            .map(|data| Ok::<_, std::io::Error>(format!("data: {data}\n\n")));
        let frames = futures::stream::iter(frames);
        let body = if stall {
            Body::from_bytes_stream(frames.chain(futures::stream::pending()))
        } else {
            Body::from_bytes_stream(frames)
        };
        Response::builder()
            .status(StatusCode::OK)
            .content_type("text/event-stream")
            .body(body)
    };
    match reply {
        Reply::Events(events) => sse(events, false),
        Reply::EventsThenStall(events) => sse(events, true),
        Reply::Status(code, retry_after) => {
            let mut builder =
                Response::builder().status(StatusCode::from_u16(code).expect("valid status"));
            if let Some(seconds) = retry_after {
                builder = builder.header("retry-after", seconds);
            }
            builder.body(format!("{{\"error\":{{\"message\":\"bad key {KEY}\"}}}}"))
        }
        Reply::Hang => std::future::pending().await,
    }
}

pub(super) fn delta(content: &str) -> String {
    serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
        .to_string()
}

pub(super) fn finish() -> String {
    serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string()
}

pub(super) fn usage(prompt_tokens: u32, completion_tokens: u32) -> String {
    serde_json::json!({"choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})
        .to_string()
}

pub(super) fn done() -> String {
    "[DONE]".to_string()
}

/// A provider that sends the head of a chunked event stream with `events`, then closes the
/// connection in the middle of the body (no terminating chunk).
pub(super) async fn start_dropping(events: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            read_request(&mut socket).await;
            let payload: String = events
                .iter()
                .map(|data| format!("data: {data}\n\n"))
                .collect();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            let chunk = format!("{head}{:x}\r\n{payload}\r\n", payload.len());
            socket.write_all(chunk.as_bytes()).await.expect("write");
            socket.flush().await.expect("flush");
            drop(socket);
        }
    });
    format!("http://127.0.0.1:{port}/v1")
}

/// Reads one request (head and `Content-Length` body) so closing the socket is not a reset of
/// unread data.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = socket.read(&mut buffer).await.expect("read");
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length || n == 0 {
                return;
            }
        } else if n == 0 {
            return;
        }
    }
}
