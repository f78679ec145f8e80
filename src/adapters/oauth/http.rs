//! The HTTP side of the providers: one `reqwest` client (rustls, no redirects followed,
//! timeouts, bounded answers) that drives `oauth2`'s token exchange and the JSON GETs of the
//! providers' APIs, discovery documents and key sets.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::Client;
use serde::de::DeserializeOwned;

/// Time allowed to open the TCP (and TLS) connection to a provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Time allowed for one whole request to a provider.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read from a provider.
pub(super) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The `User-Agent` of every request (GitHub refuses requests without one).
const USER_AGENT: &str = "study-mode-api";

/// Why an HTTP call to a provider failed. Its text never holds a token, code or secret.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum HttpError {
    /// The provider could not be reached, timed out or broke the answer off.
    #[error("{0}")]
    Transport(&'static str),
    /// The provider answered with a status other than 200 (redirects are not followed).
    #[error("status {0}")]
    Status(u16),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    #[error("answer too large")]
    TooLarge,
    /// The answer was not the JSON expected.
    #[error("malformed answer")]
    Malformed,
    /// A plain http URL while only https is allowed.
    #[error("plain http refused")]
    Insecure,
}

impl HttpError {
    /// Whether the provider refused the request itself (a 4xx), rather than failing.
    pub(super) fn is_refusal(&self) -> bool {
        matches!(self, HttpError::Status(code) if (400..500).contains(code))
    }
}

/// The HTTP client of one provider.
#[derive(Debug, Clone)]
pub(super) struct ProviderHttp {
    client: Client,
    https_only: bool,
}

impl ProviderHttp {
    /// A client with 3 s connect and 10 s total timeouts that follows no redirect; with
    /// `https_only`, every plain http URL is refused before anything is sent.
    pub(super) fn new(https_only: bool) -> anyhow::Result<Self> {
        crate::adapters::ensure_tls_provider();
        let client = Client::builder()
            .https_only(https_only)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .context("build OAuth HTTP client")?;
        Ok(Self { client, https_only })
    }

    /// Whether `url` may be called: http(s), and https when only that is allowed.
    pub(super) fn allows(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(url) => url.scheme() == "https" || (url.scheme() == "http" && !self.https_only),
            Err(_) => false,
        }
    }

    /// What `oauth2` calls for its token requests (through [`AsyncHttpClient`]): sends
    /// `request` and reads the answer, bounded. Any status other than 200 is an
    /// [`HttpError::Status`], so the caller tells a refusal (4xx) from an outage (5xx).
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        if !self.allows(&request.uri().to_string()) {
            return Err(HttpError::Insecure);
        }
        let request = reqwest::Request::try_from(request).map_err(|_| HttpError::Malformed)?;
        let response = self.client.execute(request).await.map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(HttpError::Status(status.as_u16()));
        }
        let mut builder = http::Response::builder().status(status);
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = read_bounded(response).await?;
        builder.body(body).map_err(|_| HttpError::Malformed)
    }

    /// GETs `url` as JSON, with `bearer` as the access token and `accept` as the media type.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
        accept: &str,
    ) -> Result<T, HttpError> {
        if !self.allows(url) {
            return Err(HttpError::Insecure);
        }
        let mut request = self.client.get(url).header(reqwest::header::ACCEPT, accept);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(HttpError::Status(status.as_u16()));
        }
        let body = read_bounded(response).await?;
        serde_json::from_slice(&body).map_err(|_| HttpError::Malformed)
    }
}

/// The bridge from `oauth2` to our `reqwest` client: `request_async(&provider_http)`.
impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The body of `response`, refused past [`MAX_ANSWER_BYTES`].
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A short, secret-free description of a transport failure (reqwest's own text may hold the
/// URL, whose query could carry a code).
fn transport(error: reqwest::Error) -> HttpError {
    HttpError::Transport(if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "unreachable"
    } else if error.is_body() || error.is_decode() {
        "answer broken off"
    } else {
        "request failed"
    })
}
