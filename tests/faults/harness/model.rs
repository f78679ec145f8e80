//! A controllable fake model: an OpenAI-compatible streaming Chat Completions server whose every
//! answer starts with a unique token, so the audit can tell answers apart, and whose pace a test
//! can change while turns run.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use poem::web::Data;
use poem::{Body, EndpointExt, Response, Route, handler, post};

/// The pace of answers: `deltas` text deltas, each after `delay`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Text deltas per answer (at least 3).
    pub deltas: usize,
    /// Pause before each delta.
    pub delay: Duration,
}

impl Pace {
    /// Answers of about `total`, in `deltas` steps.
    pub fn lasting(total: Duration, deltas: usize) -> Self {
        let deltas = deltas.max(3);
        Self {
            deltas,
            delay: total / u32::try_from(deltas).unwrap_or(u32::MAX),
        }
    }

    /// Answers in about a quarter second: for probes after a fault.
    pub fn quick() -> Self {
        Self::lasting(Duration::from_millis(250), 5)
    }
}

#[derive(Clone)]
struct State {
    pace: Arc<Mutex<Pace>>,
    answers: Arc<Mutex<Vec<String>>>,
}

/// A running fake model; stops when dropped.
pub struct FakeModel {
    addr: SocketAddr,
    pace: Arc<Mutex<Pace>>,
    answers: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModel {
    /// Starts on 127.0.0.1:(free port).
    pub async fn start(pace: Pace) -> Self {
        let pace = Arc::new(Mutex::new(pace));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            pace: pace.clone(),
            answers: answers.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake model");
        let addr = listener.local_addr().expect("fake model address");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let app = Route::new()
            .at("/v1/chat/completions", post(completions))
            .data(state);
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            addr,
            pace,
            answers,
            task,
        }
    }

    /// `OPENAI_BASE_URL` for the service.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Changes the pace of answers started from now on.
    pub fn set_pace(&self, pace: Pace) {
        *self.pace.lock().expect("pace lock") = pace;
    }

    /// The text the student should see of every answer started so far (marker stripped).
    pub fn answers(&self) -> Vec<String> {
        self.answers.lock().expect("answers lock").clone()
    }
}

/// The unique token an answer starts with: `ans-` and 16 hex digits.
pub fn answer_token(text: &str) -> Option<&str> {
    let token = text.split_whitespace().next()?;
    token.starts_with("ans-").then_some(token)
}

fn chunk(text: &str) -> Bytes {
    let body = serde_json::json!({"choices":[{"index":0,"delta":{"content":text}}]});
    Bytes::from(format!("data: {body}\n\n"))
}

const TAIL: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n";

#[handler]
async fn completions(state: Data<&State>, _request: Bytes) -> Response {
    let pace = *state.pace.lock().expect("pace lock");
    let token = format!("ans-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let mut deltas = vec![format!("{token} ")];
    deltas.extend((1..pace.deltas.saturating_sub(2)).map(|i| format!("w{i} ")));
    deltas.push("\nWhich is true?\nA) no\nB) yes\n".to_string());
    let visible: String = deltas.concat();
    state
        .answers
        .lock()
        .expect("answers lock")
        .push(visible.trim_end().to_string());
    // The marker is stripped by the service: it is never part of what the student sees.
    deltas.push("[[CORRECT:B]]".to_string());
    let mut chunks: Vec<Bytes> = deltas.iter().map(|d| chunk(d)).collect();
    chunks.push(Bytes::from_static(TAIL.as_bytes()));
    let delay = pace.delay;
    let stream = futures::stream::unfold(0usize, move |i| {
        let next = chunks.get(i).cloned();
        async move {
            let next = next?;
            tokio::time::sleep(delay).await;
            Some((Ok::<Bytes, std::io::Error>(next), i + 1))
        }
    });
    Response::builder()
        .content_type("text/event-stream")
        .body(Body::from_bytes_stream(stream))
}
