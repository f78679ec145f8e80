//! Outbound adapter: Embedder over an OpenAI-compatible `POST {base_url}/embeddings`.
//!
//! Inputs go in batches of at most [`MAX_INPUTS_PER_REQUEST`], each cut to
//! [`MAX_INPUT_CHARS`]; an answer is read up to [`MAX_RESPONSE_BYTES`] and used only when it
//! holds one finite vector per input, all of one dimension. No retries here: the sync job that
//! asked is retried by the queue.

#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::ports::{EmbedError, Embedder};

/// Most inputs sent in one request; a larger batch is split.
pub const MAX_INPUTS_PER_REQUEST: usize = 64;
/// Longest input sent, in characters; a longer one is cut.
pub const MAX_INPUT_CHARS: usize = 8_000;
/// Largest vector accepted.
pub const MAX_DIMENSIONS: usize = 4_096;
/// Largest answer read.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Time allowed to open the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for one whole request, answer included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the embeddings model.
#[derive(Debug, Clone)]
pub struct EmbeddingsSettings {
    /// API root without trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer key, when the provider needs one; sent only in `Authorization`, never logged.
    pub api_key: Option<SecretString>,
    /// Model name (`EMBEDDINGS_MODEL`).
    pub model: String,
    /// Whether a plain `http` base URL is accepted (development); otherwise `https` only.
    pub allow_http: bool,
}

/// [`Embedder`] over an OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    endpoint: url::Url,
    model: String,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("authenticated", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: Vec<&'a str>,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// Builds the adapter and its HTTP client (3 s connect, 30 s per request).
    ///
    /// # Errors
    /// When the base URL is not an absolute URL with a host, is `http` while `allow_http` is
    /// off, the model name is empty or longer than 200 characters, the key cannot be a header,
    /// or the client cannot be built.
    pub fn new(settings: EmbeddingsSettings) -> anyhow::Result<Self> {
        Self::with_timeouts(settings, CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }

    /// Like [`OpenAiEmbedder::new`] with explicit timeouts (tests use short ones).
    ///
    /// # Errors
    /// As [`OpenAiEmbedder::new`].
    pub fn with_timeouts(
        settings: EmbeddingsSettings,
        connect: Duration,
        total: Duration,
    ) -> anyhow::Result<Self> {
        let endpoint = endpoint_url(&settings.base_url, settings.allow_http)?;
        let model = settings.model.trim();
        if model.is_empty() || model.chars().count() > 200 || model.chars().any(char::is_control) {
            bail!("embeddings model name must be 1 to 200 characters without control characters");
        }
        let authorization = settings
            .api_key
            .as_ref()
            .filter(|key| !key.expose_secret().is_empty())
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| {
                    anyhow::anyhow!("embeddings key holds characters not allowed in a header")
                })?;
                value.set_sensitive(true);
                Ok::<_, anyhow::Error>(value)
            })
            .transpose()?;
        crate::adapters::ensure_tls_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .user_agent(concat!("study-mode-api/", env!("CARGO_PKG_VERSION")))
            // An API endpoint has no business redirecting; following one could carry the key
            // to a host nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("build the embeddings HTTP client")?;
        Ok(Self {
            client,
            endpoint,
            model: model.to_string(),
            authorization,
        })
    }

    /// One small request at worker start, so a wrong key, URL or model shows at once and the
    /// connection is open before the first job.
    ///
    /// # Errors
    /// [`EmbedError::Unavailable`] as for [`Embedder::embed`].
    pub async fn warm_up(&self) -> Result<(), EmbedError> {
        self.embed(&["warm-up".to_string()]).await.map(|_| ())
    }

    /// One request for at most [`MAX_INPUTS_PER_REQUEST`] inputs.
    async fn embed_batch(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = Request {
            model: &self.model,
            input: inputs.iter().map(|text| cut(text)).collect(),
        };
        let mut request = self.client.post(self.endpoint.clone()).json(&body);
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            // The body is not quoted: providers echo parts of a rejected key in it.
            return Err(unavailable(format!(
                "provider answered {}",
                status.as_u16()
            )));
        }
        let too_large = || unavailable("answer larger than 16 MiB");
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|_| unavailable("answer is not the JSON expected"))?;
        vectors_in_order(answer, inputs.len())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(MAX_INPUTS_PER_REQUEST) {
            let answered = self.embed_batch(batch).await?;
            // Every batch must agree with the first: one index holds vectors of one size.
            if let (Some(first), Some(next)) = (vectors.first(), answered.first())
                && Vec::len(first) != Vec::len(next)
            {
                return Err(unavailable("vectors of different dimensions"));
            }
            vectors.extend(answered);
        }
        Ok(vectors)
    }
}

/// The vectors of `answer` by input position, when there is exactly one per input, all of one
/// dimension (1 to [`MAX_DIMENSIONS`]) and finite.
fn vectors_in_order(answer: Answer, inputs: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if answer.data.len() != inputs {
        return Err(unavailable(format!(
            "{} vectors for {inputs} inputs",
            answer.data.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; inputs];
    let dimension = answer.data.first().map_or(0, |item| item.embedding.len());
    if dimension == 0 || dimension > MAX_DIMENSIONS {
        return Err(unavailable(format!(
            "vectors must have 1 to {MAX_DIMENSIONS} dimensions"
        )));
    }
    for item in answer.data {
        let slot = slots
            .get_mut(item.index)
            .filter(|slot| slot.is_none())
            .ok_or_else(|| unavailable("vector indexes do not match the inputs"))?;
        if item.embedding.len() != dimension {
            return Err(unavailable("vectors of different dimensions"));
        }
        if !item.embedding.iter().all(|x| x.is_finite()) {
            return Err(unavailable("vector holds a number that is not finite"));
        }
        *slot = Some(item.embedding);
    }
    // Every slot is filled: as many distinct in-range indexes as inputs.
    Ok(slots.into_iter().flatten().collect())
}

/// `text` cut to at most [`MAX_INPUT_CHARS`] characters (on a character boundary).
fn cut(text: &str) -> &str {
    match text.char_indices().nth(MAX_INPUT_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `{base_url}/embeddings`, `https` unless `allow_http`.
fn endpoint_url(base_url: &str, allow_http: bool) -> anyhow::Result<url::Url> {
    let base = base_url.trim().trim_end_matches('/');
    let url = url::Url::parse(&format!("{base}/embeddings"))
        .with_context(|| format!("invalid embeddings base URL {base:?}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => bail!("embeddings base URL must use https outside development"),
        _ => bail!("embeddings base URL must use http or https"),
    }
    if url.host().is_none() {
        bail!("embeddings base URL has no host");
    }
    Ok(url)
}

fn unavailable(reason: impl Into<String>) -> EmbedError {
    EmbedError::Unavailable(reason.into())
}

/// A short, secret-free description of a transport failure.
fn transport_error(error: reqwest::Error) -> EmbedError {
    let what = if error.is_timeout() {
        "provider timed out"
    } else if error.is_connect() {
        "provider unreachable"
    } else if error.is_redirect() {
        "provider redirected"
    } else if error.is_body() || error.is_decode() {
        "provider answer failed"
    } else {
        "request failed"
    };
    unavailable(what)
}
