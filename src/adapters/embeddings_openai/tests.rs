//! Tests of the embeddings adapter against a fake provider on 127.0.0.1.

use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Request, Response, Route, Server};
use serde_json::{Value, json};

use super::*;

const KEY: &str = "sk-embed-secret";

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    body: Value,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A fake `POST /v1/embeddings` answering request `body` with `answer(body)`.
async fn start(answer: impl Fn(&Value) -> Response + Send + Sync + 'static) -> (String, Log) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let answer = Arc::new(answer);
    let endpoint = poem::endpoint::make(move |req: Request| {
        let seen = seen.clone();
        let answer = answer.clone();
        async move {
            let authorization = req.header("authorization").map(String::from);
            let bytes = req.into_body().into_vec().await.expect("request body");
            let body: Value = serde_json::from_slice(&bytes).expect("JSON request");
            let response = answer(&body);
            seen.lock().expect("log").push(Seen {
                authorization,
                body,
            });
            response
        }
    });
    let app = Route::new().at("/v1/embeddings", poem::post(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let port = acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("tcp address")
        .port();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("http://127.0.0.1:{port}/v1"), log)
}

/// `dims`-dimensional vectors whose first number is the input's position, listed in reverse
/// order (providers may answer out of order).
fn vectors(dims: usize) -> impl Fn(&Value) -> Response + Send + Sync + 'static {
    move |body| {
        let inputs = body["input"].as_array().map_or(0, Vec::len);
        let data: Vec<Value> = (0..inputs)
            .rev()
            .map(|i| {
                let mut v = vec![0.5_f32; dims];
                v[0] = i as f32;
                json!({"object": "embedding", "index": i, "embedding": v})
            })
            .collect();
        json_answer(&json!({"object": "list", "data": data, "model": "m"}))
    }
}

fn json_answer(value: &Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(value.to_string())
}

fn settings(base_url: &str) -> EmbeddingsSettings {
    EmbeddingsSettings {
        base_url: base_url.to_string(),
        api_key: Some(SecretString::from(KEY)),
        model: "text-embedding-3-small".to_string(),
        allow_http: true,
    }
}

fn embedder(base_url: &str) -> OpenAiEmbedder {
    OpenAiEmbedder::new(settings(base_url)).expect("embedder")
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("section {i}")).collect()
}

async fn failure(answer: impl Fn(&Value) -> Response + Send + Sync + 'static) -> String {
    let (base, _log) = start(answer).await;
    match embedder(&base).embed(&texts(3)).await {
        Err(EmbedError::Unavailable(reason)) => {
            assert!(!reason.contains(KEY), "{reason}");
            reason
        }
        Ok(v) => panic!("expected a failure, got {} vectors", v.len()),
    }
}

#[tokio::test]
async fn a_batch_gets_one_vector_per_input_in_input_order_with_the_key_and_model() {
    let (base, log) = start(vectors(8)).await;

    let got = embedder(&base).embed(&texts(3)).await.expect("vectors");

    assert_eq!(got.len(), 3);
    assert_eq!(
        got.iter().map(|v| v[0]).collect::<Vec<_>>(),
        [0.0, 1.0, 2.0]
    );
    assert!(got.iter().all(|v| v.len() == 8));
    let seen = log.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization, Some(format!("Bearer {KEY}")));
    assert_eq!(seen[0].body["model"], "text-embedding-3-small");
    assert_eq!(
        seen[0].body["input"],
        json!(["section 0", "section 1", "section 2"])
    );
}

#[tokio::test]
async fn more_inputs_than_a_request_holds_are_split_and_kept_in_order() {
    let (base, log) = start(vectors(4)).await;

    let got = embedder(&base).embed(&texts(130)).await.expect("vectors");

    assert_eq!(got.len(), 130);
    let firsts: Vec<f32> = got.iter().map(|v| v[0]).collect();
    let expected: Vec<f32> = (0..130).map(|i| (i % 64) as f32).collect();
    assert_eq!(firsts, expected, "each batch's vectors in its own order");
    let sizes: Vec<usize> = log
        .lock()
        .expect("log")
        .iter()
        .map(|s| s.body["input"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [64, 64, 2]);
}

#[tokio::test]
async fn long_inputs_are_cut_on_a_character_boundary() {
    let (base, log) = start(vectors(2)).await;
    let long = "é".repeat(MAX_INPUT_CHARS + 10);

    embedder(&base).embed(&[long]).await.expect("vectors");

    let sent = log.lock().expect("log")[0].body["input"][0]
        .as_str()
        .expect("text")
        .to_string();
    assert_eq!(sent.chars().count(), MAX_INPUT_CHARS);
}

#[tokio::test]
async fn no_inputs_make_no_request_and_warm_up_sends_one() {
    let (base, log) = start(vectors(2)).await;
    let embedder = embedder(&base);

    assert!(embedder.embed(&[]).await.expect("nothing").is_empty());
    embedder.warm_up().await.expect("warm");

    let seen = log.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["input"], json!(["warm-up"]));
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent() {
    let (base, log) = start(vectors(2)).await;
    let mut unkeyed = settings(&base);
    unkeyed.api_key = None;

    OpenAiEmbedder::new(unkeyed)
        .expect("embedder")
        .embed(&texts(1))
        .await
        .expect("vectors");

    assert_eq!(log.lock().expect("log")[0].authorization, None);
}

#[tokio::test]
async fn a_wrong_number_of_vectors_is_refused() {
    let reason =
        failure(|_| json_answer(&json!({"data": [{"index": 0, "embedding": [1.0]}]}))).await;
    assert!(reason.contains("1 vectors for 3 inputs"), "{reason}");
}

#[tokio::test]
async fn duplicate_or_out_of_range_indexes_are_refused() {
    for indexes in [[0, 0, 1], [0, 1, 3]] {
        failure(move |_| {
            let data: Vec<Value> = indexes
                .iter()
                .map(|i| json!({"index": i, "embedding": [1.0, 2.0]}))
                .collect();
            json_answer(&json!({ "data": data }))
        })
        .await;
    }
}

#[tokio::test]
async fn mixed_empty_huge_or_infinite_vectors_are_refused() {
    let answers = [
        json!([[1.0, 2.0], [1.0], [1.0, 2.0]]),
        json!([[], [], []]),
        json!(vec![vec![0.1; MAX_DIMENSIONS + 1]; 3]),
        json!([[1.0], [1e300], [1.0]]),
    ];
    for vectors in answers {
        failure(move |_| {
            let data: Vec<Value> = vectors
                .as_array()
                .expect("list")
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"index": i, "embedding": v}))
                .collect();
            json_answer(&json!({ "data": data }))
        })
        .await;
    }
}

#[tokio::test]
async fn a_non_200_is_unavailable_without_quoting_the_body() {
    let reason = failure(|_| {
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(format!("{{\"error\":{{\"message\":\"bad key {KEY}\"}}}}"))
    })
    .await;
    assert_eq!(reason, "provider answered 401");
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_refused() {
    failure(|_| Response::builder().body("<html>gateway</html>")).await;
}

#[tokio::test]
async fn an_answer_over_sixteen_mebibytes_is_refused_with_or_without_a_length() {
    let reason = failure(|_| Response::builder().body(vec![b' '; MAX_RESPONSE_BYTES + 1])).await;
    assert!(reason.contains("16 MiB"), "{reason}");
    let streamed = failure(|_| {
        let pieces = (0..17).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024]));
        Response::builder().body(poem::Body::from_bytes_stream(futures::stream::iter(pieces)))
    })
    .await;
    assert!(streamed.contains("16 MiB"), "{streamed}");
}

#[tokio::test]
async fn a_hanging_provider_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let embedder = OpenAiEmbedder::with_timeouts(
        settings(&format!("http://{addr}/v1")),
        Duration::from_millis(500),
        Duration::from_millis(200),
    )
    .expect("embedder");

    let outcome = embedder.embed(&texts(1)).await;

    assert!(
        matches!(&outcome, Err(EmbedError::Unavailable(r)) if r == "provider timed out"),
        "{outcome:?}"
    );
}

#[test]
fn plain_http_needs_allow_http_and_other_settings_are_checked() {
    let mut strict = settings("http://127.0.0.1:1/v1");
    strict.allow_http = false;
    assert!(OpenAiEmbedder::new(strict.clone()).is_err());
    strict.base_url = "https://api.example.com/v1/".to_string();
    let built = OpenAiEmbedder::new(strict.clone()).expect("https is fine");
    assert_eq!(
        built.endpoint.as_str(),
        "https://api.example.com/v1/embeddings"
    );
    for bad in ["ftp://example.com", "not a url", "file:///etc"] {
        let mut s = settings(bad);
        s.base_url = bad.to_string();
        assert!(OpenAiEmbedder::new(s).is_err(), "{bad}");
    }
    let mut no_model = strict.clone();
    no_model.model = "  ".to_string();
    assert!(OpenAiEmbedder::new(no_model).is_err());
    let mut bad_key = strict;
    bad_key.api_key = Some(SecretString::from("bad\nkey"));
    assert!(OpenAiEmbedder::new(bad_key).is_err());
}

#[test]
fn debug_output_never_shows_the_key() {
    let config = settings("http://127.0.0.1:1/v1");
    assert!(!format!("{config:?}").contains(KEY));
    let embedder = OpenAiEmbedder::new(config).expect("embedder");
    assert!(!format!("{embedder:?}").contains(KEY));
    assert_eq!(embedder.model(), "text-embedding-3-small");
}
