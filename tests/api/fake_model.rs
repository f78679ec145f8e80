//! A fake OpenAI-compatible server on 127.0.0.1:0: Chat Completions for tutoring tests, and
//! `POST /v1/embeddings` with small deterministic vectors ([`vector_of`]) for the book sync.

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
    /// Statuses answered to the first embeddings requests (e.g. one 500); then vectors.
    pub embeddings_failures_first: Vec<u16>,
    /// When set, embeddings mean something: a text's vector has a 1 in dimension `d` for each
    /// `(keyword, d)` whose keyword it holds (case-insensitive), or only in the last dimension
    /// when it holds none ([`topic_vector`]); otherwise [`vector_of`].
    pub embedding_topics: Vec<(&'static str, usize)>,
    /// Embeddings requests with an input holding this text are answered 500.
    pub embeddings_fail_on: Option<&'static str>,
}

/// Dimensions of the fake's embeddings.
pub const EMBEDDING_DIMS: usize = 8;

/// The vector the fake answers for `text`: [`EMBEDDING_DIMS`] numbers in [-0.5, 0.5] from the
/// SHA-256 of the text, so equal texts get equal vectors.
pub fn vector_of(text: &str) -> Vec<f32> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..EMBEDDING_DIMS]
        .iter()
        .map(|b| f32::from(*b) / 255.0 - 0.5)
        .collect()
}

/// The vector of `text` under scripted `topics` (see [`Script::embedding_topics`]).
pub fn topic_vector(text: &str, topics: &[(&str, usize)]) -> Vec<f32> {
    let lower = text.to_lowercase();
    let mut vector = vec![0.0; EMBEDDING_DIMS];
    for (keyword, dim) in topics {
        if lower.contains(keyword) {
            vector[*dim] = 1.0;
        }
    }
    if vector.iter().all(|x| *x == 0.0) {
        vector[EMBEDDING_DIMS - 1] = 1.0;
    }
    vector
}

pub struct FakeModel {
    pub addr: SocketAddr,
    /// Chat Completions requests.
    pub requests: Arc<AtomicUsize>,
    pub last_body: Arc<Mutex<Option<serde_json::Value>>>,
    /// Embeddings requests, failed ones included.
    pub embedding_requests: Arc<AtomicUsize>,
    /// Texts embedded (answered with a vector).
    pub embedded_inputs: Arc<AtomicUsize>,
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
    embedding_requests: Arc<AtomicUsize>,
    embedded_inputs: Arc<AtomicUsize>,
}

#[handler]
async fn embeddings(state: Data<&State>, body: poem::web::Json<serde_json::Value>) -> Response {
    let n = state.embedding_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(code) = state.script.embeddings_failures_first.get(n) {
        return Response::builder()
            .status(StatusCode::from_u16(*code).unwrap())
            .body(r#"{"error":{"message":"embeddings down"}}"#);
    }
    let inputs: Vec<String> = match &body.0["input"] {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .body(r#"{"error":{"message":"input must be a string or a list"}}"#);
        }
    };
    if let Some(marker) = state.script.embeddings_fail_on
        && inputs.iter().any(|i| i.contains(marker))
    {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(r#"{"error":{"message":"embeddings down"}}"#);
    }
    state
        .embedded_inputs
        .fetch_add(inputs.len(), Ordering::SeqCst);
    let data: Vec<serde_json::Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let embedding = if state.script.embedding_topics.is_empty() {
                vector_of(text)
            } else {
                topic_vector(text, &state.script.embedding_topics)
            };
            serde_json::json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let answer = serde_json::json!({
        "object": "list",
        "data": data,
        "model": body.0["model"],
        "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()},
    });
    Response::builder()
        .content_type("application/json")
        .body(answer.to_string())
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
    let embedding_requests = Arc::new(AtomicUsize::new(0));
    let embedded_inputs = Arc::new(AtomicUsize::new(0));
    let state = State {
        script,
        requests: requests.clone(),
        last_body: last_body.clone(),
        embedding_requests: embedding_requests.clone(),
        embedded_inputs: embedded_inputs.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let addr = *poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .unwrap();
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .at("/v1/embeddings", post(embeddings))
        .data(state);
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    FakeModel {
        addr,
        requests,
        last_body,
        embedding_requests,
        embedded_inputs,
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

#[tokio::test]
async fn fake_model_embeds_deterministically_for_the_embeddings_adapter() {
    use study_mode_api::adapters::embeddings_openai::{EmbeddingsSettings, OpenAiEmbedder};
    use study_mode_api::domain::ports::Embedder;

    let model = start(Script {
        embeddings_failures_first: vec![500],
        ..Script::default()
    })
    .await;
    let embedder = OpenAiEmbedder::new(EmbeddingsSettings {
        base_url: model.base_url(),
        api_key: None,
        model: "embed-small".into(),
        allow_http: true,
    })
    .unwrap();
    let texts = vec!["alpha".to_string(), "beta".to_string(), "alpha".to_string()];

    let failed = embedder.embed(&texts).await;
    let vectors = embedder.embed(&texts).await.unwrap();

    assert!(failed.is_err());
    assert_eq!(
        vectors,
        texts.iter().map(|t| vector_of(t)).collect::<Vec<_>>()
    );
    assert_eq!(vectors[0].len(), EMBEDDING_DIMS);
    assert_eq!(vectors[0], vectors[2]);
    assert_ne!(vectors[0], vectors[1]);
    assert_eq!(model.embedding_requests.load(Ordering::SeqCst), 2);
    assert_eq!(model.embedded_inputs.load(Ordering::SeqCst), 3);
    assert_eq!(model.requests.load(Ordering::SeqCst), 0);
}
