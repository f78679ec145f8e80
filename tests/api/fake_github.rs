//! A fake raw.githubusercontent.com on 127.0.0.1:0: files from memory at
//! `/{repo}/{branch}/{prefix}/{path}{ext}`, request counts per URL, the `Authorization` header
//! seen, and switches to fail (500), refuse for a rate limit (429) or answer slowly while a
//! test runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, get, handler};

/// The repository, branch and docs folder the service reads by default.
pub const REPO: &str = "panaversity/agentfactory";
pub const BRANCH: &str = "main";
pub const PREFIX: &str = "apps/learn-app/docs";

#[derive(Default)]
struct State {
    /// URL path without the leading `/` → file body.
    files: Mutex<HashMap<String, String>>,
    /// URL path without the leading `/` → requests received.
    hits: Mutex<HashMap<String, usize>>,
    /// `Authorization` of the latest request.
    authorization: Mutex<Option<String>>,
    failing: AtomicBool,
    /// While non-zero: answer 429 with this `Retry-After`.
    throttled_secs: AtomicU64,
    delay_ms: AtomicU64,
}

/// A running fake; it stops with the test's runtime.
pub struct FakeGithub {
    pub addr: SocketAddr,
    state: Arc<State>,
}

#[handler]
async fn serve(req: &Request, state: Data<&Arc<State>>) -> Response {
    let key = req.uri().path().trim_start_matches('/').to_string();
    *state.hits.lock().unwrap().entry(key.clone()).or_default() += 1;
    *state.authorization.lock().unwrap() = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let throttled = state.throttled_secs.load(Ordering::SeqCst);
    if throttled > 0 {
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", throttled.to_string())
            .header("x-ratelimit-remaining", "0")
            .body("rate limited");
    }
    if state.failing.load(Ordering::SeqCst) {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body("boom");
    }
    let file = state.files.lock().unwrap().get(&key).cloned();
    match file {
        Some(body) => Response::builder()
            .content_type("text/plain; charset=utf-8")
            .body(body),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("404: Not Found"),
    }
}

impl FakeGithub {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let route = Route::new().at("/*path", get(serve).data(state.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let addr = *poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .expect("tcp");
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(route));
        Self { addr, state }
    }

    /// The value for `GITHUB_RAW_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// URL path of a file under the docs folder, e.g. `01-A/02-b.md`.
    fn key(file: &str) -> String {
        format!("{REPO}/{BRANCH}/{PREFIX}/{file}")
    }

    /// Serves `body` for `file` (relative to the docs folder, extension included).
    pub fn put(&self, file: &str, body: &str) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(Self::key(file), body.to_string());
    }

    /// Requests received for `file` (relative to the docs folder, extension included).
    pub fn hits(&self, file: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(&Self::key(file))
            .copied()
            .unwrap_or(0)
    }

    /// Requests received for any URL.
    pub fn total_hits(&self) -> usize {
        self.state.hits.lock().unwrap().values().sum()
    }

    /// `Authorization` of the latest request.
    pub fn authorization(&self) -> Option<String> {
        self.state.authorization.lock().unwrap().clone()
    }

    /// Answers every request with 500 while `on`.
    pub fn fail(&self, on: bool) {
        self.state.failing.store(on, Ordering::SeqCst);
    }

    /// Answers every request with 429 and `Retry-After: {secs}` while `secs` is not 0.
    pub fn throttle(&self, secs: u64) {
        self.state.throttled_secs.store(secs, Ordering::SeqCst);
    }

    /// Delays every answer by `delay`.
    pub fn slow(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }
}
