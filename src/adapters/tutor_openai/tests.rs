//! Tests of the OpenAI-compatible tutor against a fake provider started on 127.0.0.1.

mod fake;

use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;

use super::{OpenAiSettings, OpenAiTutor};
use crate::domain::ports::{TutorError, TutorModel};
use crate::domain::tutor::{Prompt, PromptMessage, Role, StudyMode, TutorChunk, TutorContext};
use fake::{KEY, Reply, delta, done, finish, start, start_dropping, usage};

fn settings(base_url: &str) -> OpenAiSettings {
    OpenAiSettings {
        base_url: base_url.to_string(),
        api_key: SecretString::from(KEY),
        model_teach: "teach-model".to_string(),
        model_ask: "ask-model".to_string(),
        timeout: Duration::from_secs(20),
        max_output_tokens: 800,
        max_retries: 2,
        http_version: crate::config::ModelHttpVersion::Auto,
        streams_per_connection: 100,
    }
}

fn prompt(mode: StudyMode) -> Prompt {
    Prompt {
        messages: vec![
            PromptMessage {
                role: Role::System,
                content: "You are a tutor.".to_string(),
            },
            PromptMessage {
                role: Role::User,
                content: "Teach me.".to_string(),
            },
        ],
        max_tokens: 500,
        context: TutorContext {
            mode,
            ..TutorContext::default()
        },
    }
}

async fn collect(tutor: &OpenAiTutor, mode: StudyMode) -> Vec<Result<TutorChunk, TutorError>> {
    tutor
        .stream(prompt(mode))
        .await
        .expect("stream starts")
        .collect()
        .await
}

fn ok_answer() -> Reply {
    Reply::Events(vec![
        delta("Hello"),
        delta(" world"),
        finish(),
        usage(1, 2),
        done(),
    ])
}

#[tokio::test]
async fn deltas_keep_their_whitespace_and_done_carries_the_usage() {
    let fake = start(|_| {
        Reply::Events(vec![
            delta(""),
            delta(" Hello"),
            delta(", world  "),
            delta("\n\n- item "),
            finish(),
            usage(12, 34),
            done(),
        ])
    })
    .await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let chunks: Vec<_> = collect(&tutor, StudyMode::Teach)
        .await
        .into_iter()
        .map(|chunk| chunk.expect("no error"))
        .collect();

    assert_eq!(
        chunks,
        vec![
            TutorChunk::Delta(" Hello".to_string()),
            TutorChunk::Delta(", world  ".to_string()),
            TutorChunk::Delta("\n\n- item ".to_string()),
            TutorChunk::Done {
                input_tokens: 12,
                output_tokens: 34
            },
        ]
    );
}

#[tokio::test]
async fn request_names_the_model_of_the_mode_with_bearer_key_and_streaming() {
    let fake = start(|_| ok_answer()).await;
    let tutor = OpenAiTutor::new(settings(&format!("{}/", fake.base_url))).expect("tutor");

    collect(&tutor, StudyMode::Teach).await;
    collect(&tutor, StudyMode::Ask).await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["model"], "teach-model");
    assert_eq!(requests[1].body["model"], "ask-model");
    let first = &requests[0];
    assert_eq!(
        first.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(first.body["stream"], true);
    assert_eq!(first.body["stream_options"]["include_usage"], true);
    assert_eq!(first.body["max_tokens"], 500);
    assert_eq!(
        first.body["messages"],
        serde_json::json!([
            {"role": "system", "content": "You are a tutor."},
            {"role": "user", "content": "Teach me."},
        ])
    );
}

#[tokio::test]
async fn max_tokens_is_capped_by_the_configured_ceiling() {
    let fake = start(|_| ok_answer()).await;
    let mut config = settings(&fake.base_url);
    config.max_output_tokens = 100;
    let tutor = OpenAiTutor::new(config).expect("tutor");

    collect(&tutor, StudyMode::Teach).await;

    assert_eq!(fake.requests()[0].body["max_tokens"], 100);
}

#[tokio::test]
async fn a_429_with_retry_after_zero_is_retried_into_success() {
    let fake = start(|n| {
        if n == 0 {
            Reply::Status(429, Some("0"))
        } else {
            ok_answer()
        }
    })
    .await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let chunks = collect(&tutor, StudyMode::Teach).await;

    assert_eq!(fake.requests().len(), 2);
    assert!(matches!(
        chunks.last(),
        Some(Ok(TutorChunk::Done {
            input_tokens: 1,
            output_tokens: 2
        }))
    ));
}

#[tokio::test]
async fn a_500_on_every_attempt_gives_unavailable_after_max_retries_plus_one_requests() {
    let fake = start(|_| Reply::Status(500, None)).await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let outcome = tutor.stream(prompt(StudyMode::Teach)).await;

    let Err(TutorError::Unavailable(message)) = outcome else {
        panic!("expected Unavailable");
    };
    assert!(message.contains("500"), "{message}");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_401_gives_unavailable_at_once_without_the_key_in_the_message() {
    let fake = start(|_| Reply::Status(401, None)).await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let outcome = tutor.stream(prompt(StudyMode::Teach)).await;

    let Err(TutorError::Unavailable(message)) = outcome else {
        panic!("expected Unavailable");
    };
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(KEY), "{message}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_body_that_ends_without_done_yields_the_deltas_then_an_error() {
    let fake = start(|_| Reply::Events(vec![delta("one "), delta("two")])).await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let chunks = collect(&tutor, StudyMode::Teach).await;

    assert_interrupted_after_two_deltas(&chunks);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_dropped_connection_yields_the_deltas_then_an_error() {
    let base_url = start_dropping(vec![delta("one "), delta("two")]).await;
    let tutor = OpenAiTutor::new(settings(&base_url)).expect("tutor");

    let chunks = collect(&tutor, StudyMode::Teach).await;

    assert_interrupted_after_two_deltas(&chunks);
}

fn assert_interrupted_after_two_deltas(chunks: &[Result<TutorChunk, TutorError>]) {
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert!(matches!(&chunks[0], Ok(TutorChunk::Delta(text)) if text == "one "));
    assert!(matches!(&chunks[1], Ok(TutorChunk::Delta(text)) if text == "two"));
    assert!(
        matches!(&chunks[2], Err(TutorError::Unavailable(message)) if message.starts_with("stream interrupted")),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn a_stream_that_breaks_before_the_first_token_is_retried() {
    let fake = start(|n| {
        if n == 0 {
            Reply::Events(vec![delta("")])
        } else {
            ok_answer()
        }
    })
    .await;
    let tutor = OpenAiTutor::new(settings(&fake.base_url)).expect("tutor");

    let chunks = collect(&tutor, StudyMode::Teach).await;

    assert_eq!(fake.requests().len(), 2);
    assert!(chunks.iter().all(Result::is_ok), "{chunks:?}");
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out() {
    let fake = start(|_| Reply::Hang).await;
    let mut config = settings(&fake.base_url);
    config.timeout = Duration::from_millis(300);
    let tutor = OpenAiTutor::new(config).expect("tutor");

    let outcome = tutor.stream(prompt(StudyMode::Teach)).await;

    assert!(matches!(outcome, Err(TutorError::Timeout)));
}

#[tokio::test]
async fn passing_the_deadline_mid_stream_yields_the_deltas_then_a_timeout() {
    let fake = start(|_| Reply::EventsThenStall(vec![delta("Hello")])).await;
    let mut config = settings(&fake.base_url);
    config.timeout = Duration::from_millis(300);
    let tutor = OpenAiTutor::new(config).expect("tutor");

    let chunks = collect(&tutor, StudyMode::Teach).await;

    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert!(matches!(&chunks[0], Ok(TutorChunk::Delta(text)) if text == "Hello"));
    assert!(matches!(&chunks[1], Err(TutorError::Timeout)));
}

#[tokio::test]
async fn an_unreachable_provider_gives_unavailable_after_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let mut config = settings(&format!("http://127.0.0.1:{port}/v1"));
    config.max_retries = 1;
    let tutor = OpenAiTutor::new(config).expect("tutor");

    let outcome = tutor.stream(prompt(StudyMode::Teach)).await;

    assert!(matches!(outcome, Err(TutorError::Unavailable(_))));
}

#[test]
fn new_rejects_a_base_url_that_is_not_http() {
    assert!(OpenAiTutor::new(settings("ftp://example.org/v1")).is_err());
    assert!(OpenAiTutor::new(settings("not a url")).is_err());
}

#[tokio::test]
async fn http2_with_prior_knowledge_streams_and_opens_a_connection_per_full_client() {
    let fake = start(|_| ok_answer()).await;
    let tutor = OpenAiTutor::new(OpenAiSettings {
        http_version: crate::config::ModelHttpVersion::Http2,
        streams_per_connection: 2,
        ..settings(&fake.base_url)
    })
    .expect("tutor");
    // Three streams held open at once: two share the first client, the third needs another.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tutor.stream(prompt(StudyMode::Teach)).await.expect("open"));
    }
    assert_eq!(tutor.clients.clients(), 2);
    for stream in held {
        let chunks: Vec<_> = stream.collect().await;
        assert!(
            matches!(chunks.last(), Some(Ok(TutorChunk::Done { .. }))),
            "{chunks:?}"
        );
    }
}
