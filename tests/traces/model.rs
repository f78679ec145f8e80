//! A fake OpenAI-compatible streaming model that records the `traceparent` of each request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use poem::http::HeaderMap;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, handler, post};

type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// The running fake model; stops when dropped.
pub struct Model {
    addr: SocketAddr,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Model {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Model {
    /// Listens on 127.0.0.1:(free port).
    pub async fn start() -> Self {
        let seen = Seen::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind model");
        let addr = listener.local_addr().expect("model address");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let app = Route::new()
            .at("/v1/chat/completions", post(completions))
            .data(seen.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self { addr, seen, task }
    }

    /// `OPENAI_BASE_URL` for the service.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The `traceparent` header of every request, in order (`None`: the request had none).
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.seen.lock().expect("seen lock").clone()
    }
}

fn chunk(delta: &str) -> String {
    let body = serde_json::json!({"choices":[{"index":0,"delta":{"content":delta}}]});
    format!("data: {body}\n\n")
}

#[handler]
async fn completions(seen: Data<&Seen>, headers: &HeaderMap, _body: Bytes) -> Response {
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().expect("seen lock").push(traceparent);
    let mut body = String::new();
    for delta in [
        "An agent perceives and acts. ",
        "\nWhich is true?\nA) no\nB) yes\n",
        "[[CORRECT:B]]",
    ] {
        body.push_str(&chunk(delta));
    }
    body.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n");
    Response::builder()
        .content_type("text/event-stream")
        .body(Bytes::from(body))
}
