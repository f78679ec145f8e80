//! Outbound adapter: TutorModel over any OpenAI-compatible Chat Completions API (streaming).
//!
//! One shared HTTP client; the settings' `timeout` bounds the whole turn (every retry and the
//! complete stream), because a client-wide total timeout would cut long answers short.
//! Retries happen only before the first token: once text has reached the student, replaying the
//! request could produce a different answer that no longer matches what was shown.

mod metrics;
pub mod pool;
mod wire;

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use async_trait::async_trait;
use futures::StreamExt;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::config::ModelHttpVersion;
use crate::domain::ports::{TutorError, TutorModel, TutorStream};
use crate::domain::tutor::{Prompt, StudyMode};
pub use metrics::{ModelMetrics, RequestStatus};
use pool::ClientPool;

/// First retry delay; doubled on every further attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Longest computed backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// Longest wait honoured from a provider's `Retry-After`, so a provider cannot park a turn.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);
/// Upper bound of the jitter added to computed backoffs, in milliseconds.
const JITTER_MAX_MS: u32 = 100;

/// How to reach an OpenAI-compatible provider (OpenAI, DeepSeek, Ollama, vLLM, …).
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// API root without trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer key; sent only in the `Authorization` header, never logged.
    pub api_key: SecretString,
    /// Model used in teach mode.
    pub model_teach: String,
    /// Model used in ask mode.
    pub model_ask: String,
    /// Deadline of a whole turn: every attempt, every backoff and the complete stream.
    pub timeout: Duration,
    /// Ceiling on `max_tokens`, whatever the prompt asks for.
    pub max_output_tokens: u32,
    /// Extra attempts after the first one, on connection errors, 429 and 5xx.
    pub max_retries: u32,
    /// HTTP version spoken to the provider.
    pub http_version: ModelHttpVersion,
    /// Streams one HTTP client (one HTTP/2 connection) carries at once.
    pub streams_per_connection: usize,
}

/// [`TutorModel`] that streams from `POST {base_url}/chat/completions`.
#[derive(Debug)]
pub struct OpenAiTutor {
    clients: ClientPool,
    endpoint: url::Url,
    settings: OpenAiSettings,
    metrics: ModelMetrics,
}

/// Why one attempt failed, and whether another attempt may help.
enum AttemptError {
    /// Worth another attempt (after `retry_after` when the provider said so).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Final: retrying cannot help.
    Fatal(TutorError),
}

impl OpenAiTutor {
    /// Builds the adapter and its HTTP client.
    ///
    /// Installs the `ring` rustls crypto provider as the process default when none is installed
    /// yet, because the client cannot be built without one.
    ///
    /// # Errors
    /// When `base_url` is not an absolute `http`/`https` URL or the client cannot be built.
    pub fn new(settings: OpenAiSettings) -> anyhow::Result<Self> {
        let endpoint = endpoint_url(&settings.base_url)?;
        let clients = ClientPool::new(
            settings.http_version,
            settings.streams_per_connection,
            endpoint.scheme() == "https",
        )?;
        Ok(Self {
            clients,
            endpoint,
            settings,
            metrics: ModelMetrics::new(None),
        })
    }

    /// The same, counting its requests on `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: ModelMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn model_for(&self, mode: StudyMode) -> &str {
        match mode {
            StudyMode::Teach => &self.settings.model_teach,
            StudyMode::Ask => &self.settings.model_ask,
        }
    }

    /// Retries attempts until one yields a first chunk, the retries run out or the deadline hits.
    async fn open(&self, body: Vec<u8>, deadline: Instant) -> Result<TutorStream, TutorError> {
        let mut retries_done: u32 = 0;
        loop {
            let attempt = tokio::time::timeout_at(deadline, self.attempt(body.clone(), deadline));
            let (reason, retry_after) = match attempt.await {
                Err(_) => {
                    self.metrics.request(RequestStatus::Timeout);
                    return Err(TutorError::Timeout);
                }
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(AttemptError::Fatal(error))) => return Err(error),
                Ok(Err(AttemptError::Retry {
                    reason,
                    retry_after,
                })) => (reason, retry_after),
            };
            if retries_done >= self.settings.max_retries {
                return Err(TutorError::Unavailable(format!(
                    "{reason} (after {} attempts)",
                    retries_done + 1
                )));
            }
            let delay =
                retry_after.map_or_else(|| backoff(retries_done), |wait| wait.min(RETRY_AFTER_CAP));
            retries_done += 1;
            tracing::warn!(
                attempt = retries_done + 1,
                reason = %reason,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "tutor model request failed; retrying"
            );
            // Waiting past the deadline would only postpone the same outcome.
            if Instant::now() + delay >= deadline {
                return Err(TutorError::Timeout);
            }
            tokio::time::sleep(delay).await;
            self.metrics.retry();
        }
    }

    /// One request: sends it, checks the status, and waits for the first chunk of the answer.
    async fn attempt(&self, body: Vec<u8>, deadline: Instant) -> Result<TutorStream, AttemptError> {
        let (status, outcome) = self.try_once(body, deadline).await;
        if let Some(status) = status {
            self.metrics.request(status);
        }
        outcome
    }

    /// One request and its status class (`None` when nothing was sent).
    async fn try_once(
        &self,
        body: Vec<u8>,
        deadline: Instant,
    ) -> (Option<RequestStatus>, Result<TutorStream, AttemptError>) {
        let lease = match self.clients.lease() {
            Ok(lease) => lease,
            Err(e) => {
                let error = TutorError::Unavailable(format!("no model connection: {e:#}"));
                return (None, Err(AttemptError::Fatal(error)));
            }
        };
        let mut request = lease
            .client()
            .post(self.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .body(body);
        // The W3C `traceparent` of the model call's span: the provider's traces join the turn's.
        let mut trace_headers = reqwest::header::HeaderMap::new();
        crate::telemetry::otel::inject_current(&mut trace_headers);
        request = request.headers(trace_headers);
        let key = self.settings.api_key.expose_secret();
        // Local servers (Ollama, vLLM) often run without a key.
        if !key.is_empty() {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let status = if error.is_timeout() {
                    RequestStatus::Timeout
                } else {
                    RequestStatus::ConnectError
                };
                return (Some(status), Err(send_failure(&error)));
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry = AttemptError::Retry {
                reason: format!("provider answered {status}"),
                retry_after: retry_after(response.headers()),
            };
            return (Some(RequestStatus::RateLimited), Err(retry));
        }
        if status.is_server_error() {
            let retry = AttemptError::Retry {
                reason: format!("provider answered {status}"),
                retry_after: None,
            };
            return (Some(RequestStatus::ServerError), Err(retry));
        }
        if !status.is_success() {
            // The body is not quoted: providers echo parts of a rejected key in it.
            let error = TutorError::Unavailable(format!("provider answered {status}"));
            return (
                Some(RequestStatus::ClientError),
                Err(AttemptError::Fatal(error)),
            );
        }
        let mut chunks = wire::decode(response.bytes_stream(), deadline).boxed();
        match chunks.next().await {
            // The lease travels with the stream: its slot is freed when the answer ends.
            Some(Ok(first)) => (
                Some(RequestStatus::Ok),
                Ok(futures::stream::once(async move { Ok(first) })
                    .chain(chunks)
                    .map(move |chunk| {
                        let _held = &lease;
                        chunk
                    })
                    .boxed()),
            ),
            Some(Err(TutorError::Timeout)) => (
                Some(RequestStatus::Timeout),
                Err(AttemptError::Fatal(TutorError::Timeout)),
            ),
            Some(Err(TutorError::Unavailable(reason))) => (
                Some(RequestStatus::StreamError),
                Err(AttemptError::Retry {
                    reason,
                    retry_after: None,
                }),
            ),
            None => (
                Some(RequestStatus::StreamError),
                Err(AttemptError::Retry {
                    reason: "stream interrupted: empty body".to_string(),
                    retry_after: None,
                }),
            ),
        }
    }
}

#[async_trait]
impl TutorModel for OpenAiTutor {
    async fn stream(&self, prompt: Prompt) -> Result<TutorStream, TutorError> {
        let deadline = Instant::now() + self.settings.timeout;
        // The model call's span (opened by the caller) learns which model answers.
        let span = tracing::Span::current();
        span.record("gen_ai.provider.name", "openai");
        span.record("gen_ai.request.model", self.model_for(prompt.context.mode));
        let body = wire::request_body(
            self.model_for(prompt.context.mode),
            &prompt.messages,
            max_tokens(prompt.max_tokens, self.settings.max_output_tokens),
        )
        .map_err(|_| TutorError::Unavailable("could not encode the request".to_string()))?;
        self.open(body, deadline).await
    }
}

/// The token budget sent: the prompt's own limit under the configured ceiling; a prompt limit
/// of 0 means "no limit of its own".
fn max_tokens(prompt_limit: u32, ceiling: u32) -> u32 {
    if prompt_limit == 0 {
        ceiling
    } else {
        prompt_limit.min(ceiling)
    }
}

fn endpoint_url(base_url: &str) -> anyhow::Result<url::Url> {
    let base = base_url.trim().trim_end_matches('/');
    let url = url::Url::parse(&format!("{base}/chat/completions"))
        .with_context(|| format!("invalid tutor model base URL {base:?}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "tutor model base URL must use http or https"
    );
    Ok(url)
}

fn send_failure(error: &reqwest::Error) -> AttemptError {
    if error.is_builder() {
        return AttemptError::Fatal(TutorError::Unavailable(
            "could not build the request".to_string(),
        ));
    }
    let reason = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "connection timed out"
    } else {
        "request failed"
    };
    AttemptError::Retry {
        reason: reason.to_string(),
        retry_after: None,
    }
}

/// `Retry-After` in seconds; the HTTP-date form is rare for APIs and falls back to backoff.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Exponential backoff before retry number `retries_done + 1`, with jitter from the clock so
/// that many turns failing together do not retry in lockstep.
fn backoff(retries_done: u32) -> Duration {
    let factor = 1u32.checked_shl(retries_done).unwrap_or(u32::MAX);
    let base = BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let jitter = Duration::from_nanos(u64::from(nanos % (JITTER_MAX_MS * 1_000_000)));
    base + jitter
}
