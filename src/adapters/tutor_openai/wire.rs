//! Wire format of the Chat Completions API: the request body, and the decoder that turns the
//! provider's server-sent events into [`TutorChunk`]s.

use std::fmt::Display;
use std::pin::Pin;

use eventsource_stream::{EventStream, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::domain::ports::TutorError;
use crate::domain::tutor::{PromptMessage, Role, TutorChunk};

#[cfg(test)]
mod tests;

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    stream_options: StreamOptions,
    max_tokens: u32,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ChunkDto {
    #[serde(default)]
    choices: Vec<ChoiceDto>,
    usage: Option<UsageDto>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChoiceDto {
    delta: Option<DeltaDto>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct DeltaDto {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageDto {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// JSON body of a streaming chat completion request.
pub(super) fn request_body(
    model: &str,
    messages: &[PromptMessage],
    max_tokens: u32,
) -> serde_json::Result<Vec<u8>> {
    let messages = messages
        .iter()
        .map(|message| WireMessage {
            role: match message.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: &message.content,
        })
        .collect();
    serde_json::to_vec(&ChatRequest {
        model,
        messages,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        max_tokens,
    })
}

/// Decodes an SSE body into deltas, ending with exactly one `Done` on success, or with one
/// error when the body breaks off or `deadline` passes.
pub(super) fn decode<S, B, E>(
    body: S,
    deadline: Instant,
) -> impl Stream<Item = Result<TutorChunk, TutorError>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: Display + Send + 'static,
{
    let decoder = Decoder {
        events: Box::pin(body.eventsource()),
        deadline,
        input_tokens: 0,
        output_tokens: 0,
        finished: false,
        cut_short: None,
    };
    futures::stream::unfold(Some(decoder), |state| async move {
        let mut decoder = state?;
        let (item, more) = decoder.next_item().await;
        Some((item, more.then_some(decoder)))
    })
}

struct Decoder<S> {
    events: Pin<Box<EventStream<S>>>,
    deadline: Instant,
    input_tokens: u32,
    output_tokens: u32,
    /// A choice reported a `finish_reason`: the answer is whole even if `[DONE]` never comes.
    finished: bool,
    /// The `finish_reason` said the answer was cut short (token limit, content filter): the
    /// stream then ends with an error instead of `Done`, so the turn counts as interrupted.
    cut_short: Option<&'static str>,
}

/// Why a `finish_reason` means the answer is not whole; `None` for a normal end.
fn cut_short(finish_reason: &str) -> Option<&'static str> {
    match finish_reason {
        "length" => Some("the answer reached the output token limit"),
        "content_filter" => Some("the provider filtered the answer"),
        _ => None,
    }
}

impl<S, B, E> Decoder<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    /// The next chunk, and whether anything may follow it.
    async fn next_item(&mut self) -> (Result<TutorChunk, TutorError>, bool) {
        loop {
            let event = match tokio::time::timeout_at(self.deadline, self.events.next()).await {
                Err(_) => return (Err(TutorError::Timeout), false),
                Ok(None) if self.finished => return (self.end(), false),
                Ok(None) => return (Err(interrupted("body ended before [DONE]")), false),
                Ok(Some(Err(error))) => return (Err(interrupted(describe(&error))), false),
                Ok(Some(Ok(event))) => event,
            };
            match self.accept(&event.data) {
                Ok(Some(TutorChunk::Done { .. })) => return (self.end(), false),
                Ok(Some(delta)) => return (Ok(delta), true),
                Ok(None) => {}
                Err(error) => return (Err(error), false),
            }
        }
    }

    /// Reads one event's data: a delta to yield, nothing to yield, or a broken stream.
    fn accept(&mut self, data: &str) -> Result<Option<TutorChunk>, TutorError> {
        if data.trim() == "[DONE]" {
            return Ok(Some(self.done()));
        }
        let chunk: ChunkDto =
            serde_json::from_str(data).map_err(|_| interrupted("malformed chunk"))?;
        if chunk.error.is_some() {
            return Err(interrupted("provider reported an error"));
        }
        if let Some(usage) = chunk.usage {
            self.input_tokens = usage.prompt_tokens;
            self.output_tokens = usage.completion_tokens;
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(None);
        };
        if let Some(reason) = &choice.finish_reason {
            self.finished = true;
            self.cut_short = self.cut_short.or_else(|| cut_short(reason));
        }
        Ok(choice
            .delta
            .and_then(|delta| delta.content)
            .filter(|content| !content.is_empty())
            .map(TutorChunk::Delta))
    }

    /// The end of a body that reported a `finish_reason`: `Done`, or the error of a cut answer.
    fn end(&self) -> Result<TutorChunk, TutorError> {
        match self.cut_short {
            Some(why) => Err(interrupted(why)),
            None => Ok(self.done()),
        }
    }

    fn done(&self) -> TutorChunk {
        TutorChunk::Done {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        }
    }
}

fn interrupted(why: &str) -> TutorError {
    TutorError::Unavailable(format!("stream interrupted: {why}"))
}

/// Short, secret-free description; transport errors are only logged, since they name the URL.
fn describe<E: Display>(error: &EventStreamError<E>) -> &'static str {
    match error {
        EventStreamError::Utf8(_) => "invalid UTF-8",
        EventStreamError::Parser(_) => "malformed event stream",
        EventStreamError::Transport(error) => {
            tracing::debug!(error = %error, "tutor model stream broke");
            "connection lost"
        }
    }
}
