//! A fake OpenAI-compatible Chat Completions server on 127.0.0.1:0 for tutoring tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, EndpointExt, Response, Route, handler, post};

/// What the fake answers.
#[derive(Clone, Default)]
pub struct Script {
    /// Statuses answered before the stream (e.g. one 429 first); then 200.
    pub failures_first: Vec<u16>,
    /// Text deltas to stream.
    pub deltas: Vec<String>,
    /// Pause before each delta.
    pub delay: Duration,
    /// Stop after this many deltas, without `[DONE]` (a cut stream).
    pub cut_after: Option<usize>,
    /// `finish_reason` of the last chunk; `stop` when unset (`length` = the token limit).
    pub finish_reason: Option<&'static str>,
}

pub struct FakeModel {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    pub last_body: Arc<Mutex<Option<serde_json::Value>>>,
}

impl FakeModel {
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

#[derive(Clone)]
struct State {
    script: Script,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Option<serde_json::Value>>>,
}

fn chunk(delta: &str) -> String {
    let body = serde_json::json!({"choices":[{"index":0,"delta":{"content":delta}}]});
    format!("data: {body}\n\n")
}

#[handler]
async fn completions(state: Data<&State>, body: poem::web::Json<serde_json::Value>) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst);
    *state.last_body.lock().unwrap() = Some(body.0);
    if let Some(code) = state.script.failures_first.get(n) {
        return Response::builder()
            .status(StatusCode::from_u16(*code).unwrap())
            .header("retry-after", "0")
            .body(r#"{"error":{"message":"try later"}}"#);
    }
    let script = state.script.clone();
    let stream = async_stream(script);
    Response::builder()
        .content_type("text/event-stream")
        .body(Body::from_bytes_stream(stream))
}

fn async_stream(
    script: Script,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    let limit = script.cut_after.unwrap_or(script.deltas.len());
    let cut = script.cut_after.is_some();
    futures::stream::unfold(0usize, move |i| {
        let script = script.clone();
        async move {
            if i < limit {
                tokio::time::sleep(script.delay).await;
                return Some((Ok(bytes::Bytes::from(chunk(&script.deltas[i]))), i + 1));
            }
            if i == limit && !cut {
                let reason = script.finish_reason.unwrap_or("stop");
                let tail = format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"{reason}\"}}],\"usage\":{{\"prompt_tokens\":12,\"completion_tokens\":7}}}}\n\ndata: [DONE]\n\n"
                );
                return Some((Ok(bytes::Bytes::from(tail)), i + 1));
            }
            None
        }
    })
}

pub async fn start(script: Script) -> FakeModel {
    let requests = Arc::new(AtomicUsize::new(0));
    let last_body = Arc::new(Mutex::new(None));
    let state = State {
        script,
        requests: requests.clone(),
        last_body: last_body.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let addr = *poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .unwrap();
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .data(state);
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    FakeModel {
        addr,
        requests,
        last_body,
    }
}

/// Deltas that teach, ask an A/B question and mark B as correct, split mid-marker.
pub fn teaching_deltas() -> Vec<String> {
    [
        "Agents ",
        "use **tools** to act.\n\n",
        "Which is true?\n",
        "A) Tools are optional decoration\n",
        "B) Tools let an agent act\n",
        "[[COR",
        "RECT:",
        "B]]",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}
