//! Tests of the event-stream decoder on in-memory bodies.

use std::time::Duration;

use futures::StreamExt;

use super::decode;
use crate::domain::ports::TutorError;
use crate::domain::tutor::TutorChunk;

fn decode_all(
    frames: Vec<&'static str>,
) -> impl std::future::Future<Output = Vec<Result<TutorChunk, TutorError>>> {
    let body = futures::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    decode(body, deadline).collect()
}

#[tokio::test]
async fn decode_ends_with_zero_usage_when_none_was_reported() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: [DONE]\n\n",
    ])
    .await;

    assert_eq!(
        chunks.into_iter().map(Result::ok).collect::<Vec<_>>(),
        vec![
            Some(TutorChunk::Delta("Hi".to_string())),
            Some(TutorChunk::Done {
                input_tokens: 0,
                output_tokens: 0
            }),
        ]
    );
}

#[tokio::test]
async fn decode_accepts_a_finished_answer_whose_body_ends_without_done() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n",
    ])
    .await;

    assert!(matches!(chunks.last(), Some(Ok(TutorChunk::Done { .. }))));
}

#[tokio::test]
async fn decode_reports_malformed_json_after_the_deltas_received() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {not json\n\n",
        "data: [DONE]\n\n",
    ])
    .await;

    assert_eq!(chunks.len(), 2);
    assert!(matches!(&chunks[1], Err(TutorError::Unavailable(m)) if m.contains("malformed")));
}

#[tokio::test]
async fn decode_joins_events_split_across_network_frames() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"con",
        "tent\":\" split \"}}]}\n",
        "\ndata: [DONE]\n\n",
    ])
    .await;

    assert!(matches!(&chunks[0], Ok(TutorChunk::Delta(text)) if text == " split "));
}

#[tokio::test]
async fn an_answer_cut_at_the_token_limit_ends_with_an_error_not_done() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"Q?\\n[[CORRECT:\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"A\"},\"finish_reason\":\"length\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9}}\n\n",
        "data: [DONE]\n\n",
    ])
    .await;

    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert!(
        matches!(&chunks[2], Err(TutorError::Unavailable(m)) if m.contains("token limit")),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn an_answer_cut_at_the_token_limit_without_done_ends_with_an_error() {
    let chunks = decode_all(vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n",
    ])
    .await;

    assert!(matches!(
        chunks.last(),
        Some(Err(TutorError::Unavailable(_)))
    ));
}
