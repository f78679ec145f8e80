//! Outbound adapter: LessonSource over raw files of a GitHub repository (reqwest).

pub mod catalog;
#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH};
use reqwest::{Client, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::lesson::{LessonPath, RawLesson};
use crate::domain::ports::{Conditional, LessonSource, LessonSourceError};

/// File forms tried for a path, in the book's order of precedence.
const FORMS: [&str; 4] = [".md", ".mdx", "/index.md", "/README.md"];

/// Largest lesson accepted; a bigger answer is not a lesson and must not fill memory.
pub const MAX_LESSON_BYTES: usize = 2 * 1024 * 1024;

/// Longest `ETag` kept or sent back; a longer one is ignored (the lesson is fetched in full).
pub const MAX_ETAG_CHARS: usize = 200;

/// Time allowed to open the TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Time allowed for one whole request, body included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the book lives on GitHub.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// Raw content host, e.g. `https://raw.githubusercontent.com`.
    pub raw_base_url: String,
    /// `owner/name` of the book's repository.
    pub repo: String,
    /// Branch to read.
    pub branch: String,
    /// Folder of the docs inside the repository, e.g. `apps/learn-app/docs`.
    pub docs_prefix: String,
    /// Token for private repositories or higher rate limits; sent, never logged.
    pub token: Option<SecretString>,
}

/// Fetches lesson markdown from raw.githubusercontent.com (or a compatible host).
pub struct GithubLessonSource {
    client: Client,
    /// `{base}/{repo}/{branch}/{prefix}`, without a trailing slash.
    url_prefix: String,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for GithubLessonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubLessonSource")
            .field("url_prefix", &self.url_prefix)
            .field("authenticated", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

impl GithubLessonSource {
    /// Builds the source and its one shared HTTP client (3 s connect, 10 s total).
    ///
    /// # Errors
    /// When the base URL is not an http(s) URL, the repository or branch is empty, or the
    /// token cannot be sent as a header.
    pub fn new(settings: GithubSettings) -> anyhow::Result<Self> {
        Self::with_timeouts(settings, CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }

    /// Like [`GithubLessonSource::new`] with explicit timeouts (tests use short ones).
    ///
    /// # Errors
    /// As [`GithubLessonSource::new`].
    pub fn with_timeouts(
        settings: GithubSettings,
        connect: Duration,
        total: Duration,
    ) -> anyhow::Result<Self> {
        let url_prefix = url_prefix(&settings)?;
        let authorization = token_header(settings.token.as_ref())?;
        let client = http_client(connect, total, reqwest::redirect::Policy::limited(5))?;
        Ok(Self {
            client,
            url_prefix,
            authorization,
        })
    }

    /// Fetches one form, conditionally when `etag` is given.
    async fn fetch_form(
        &self,
        url: &str,
        etag: Option<&HeaderValue>,
    ) -> Result<FormAnswer, LessonSourceError> {
        let mut request = self.client.get(url);
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        if let Some(value) = etag {
            request = request.header(IF_NONE_MATCH, value.clone());
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(FormAnswer::Absent);
        }
        // Only an answer to a conditional request: unasked, a 304 is a failure like any 3xx.
        if status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(FormAnswer::NotModified);
        }
        if let Some(refusal) = rate_limit_refusal(status, response.headers()) {
            return Err(refusal);
        }
        if !status.is_success() {
            return Err(LessonSourceError::Unavailable(format!(
                "GitHub answered {}",
                status.as_u16()
            )));
        }
        let etag = response.headers().get(ETAG).and_then(bounded_etag);
        let too_large = || LessonSourceError::Unavailable("lesson larger than 2 MiB".to_string());
        if response
            .content_length()
            .is_some_and(|len| len > MAX_LESSON_BYTES as u64)
        {
            return Err(too_large());
        }
        // The declared length may be absent or wrong, so the bound is enforced while reading.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_LESSON_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FormAnswer::Body {
            markdown: String::from_utf8_lossy(&body).into_owned(),
            etag,
        })
    }

    /// Tries the forms in order until one answers. `etag` (already checked) goes with each:
    /// GitHub's validators are of the content, whichever form holds it.
    async fn fetch_forms(
        &self,
        path: &LessonPath,
        etag: Option<HeaderValue>,
    ) -> Result<Conditional, LessonSourceError> {
        if !is_safe_relative(path.as_str()) {
            return Err(LessonSourceError::NotFound);
        }
        for form in FORMS {
            let url = format!("{}/{}{form}", self.url_prefix, path.as_str());
            match self.fetch_form(&url, etag.as_ref()).await {
                Ok(FormAnswer::Body { markdown, etag }) => {
                    return Ok(Conditional::Modified {
                        lesson: RawLesson {
                            path: path.clone(),
                            markdown,
                        },
                        etag,
                    });
                }
                Ok(FormAnswer::NotModified) => return Ok(Conditional::NotModified),
                Ok(FormAnswer::Absent) => {
                    tracing::debug!(lesson = %path, form, "lesson form not on GitHub");
                }
                Err(error) => {
                    tracing::warn!(lesson = %path, form, %error, "GitHub lesson fetch failed");
                    return Err(error);
                }
            }
        }
        Err(LessonSourceError::NotFound)
    }
}

/// What GitHub answered for one form of a lesson.
enum FormAnswer {
    /// 404: try the next form.
    Absent,
    /// 304 to a conditional request.
    NotModified,
    /// The file, with its validator when GitHub sent a usable one.
    Body {
        markdown: String,
        etag: Option<String>,
    },
}

#[async_trait]
impl LessonSource for GithubLessonSource {
    async fn fetch(&self, path: &LessonPath) -> Result<RawLesson, LessonSourceError> {
        match self.fetch_forms(path, None).await? {
            Conditional::Modified { lesson, .. } => Ok(lesson),
            // Not reachable: without a validator no form answers "not modified".
            Conditional::NotModified => Err(LessonSourceError::Unavailable(
                "GitHub answered 304 to an unconditional request".to_string(),
            )),
        }
    }

    async fn fetch_if_changed(
        &self,
        path: &LessonPath,
        etag: Option<String>,
    ) -> Result<Conditional, LessonSourceError> {
        // A validator that could not have come from GitHub is not sent: fetch in full instead.
        let etag = etag.as_deref().and_then(|value| {
            let value = HeaderValue::from_str(value).ok()?;
            bounded_etag(&value).map(|_| value)
        });
        self.fetch_forms(path, etag).await
    }
}

/// An `ETag` worth keeping: 1 to [`MAX_ETAG_CHARS`] visible ASCII characters, so a stored
/// validator stays small and can be sent back as a header as it is.
fn bounded_etag(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let visible = !text.is_empty()
        && text.len() <= MAX_ETAG_CHARS
        && text.bytes().all(|b| b.is_ascii_graphic());
    visible.then(|| text.to_string())
}

/// `Authorization: token …` for `token`, marked sensitive (never printed by reqwest).
fn token_header(token: Option<&SecretString>) -> anyhow::Result<Option<HeaderValue>> {
    token
        .map(|token| {
            let mut value = HeaderValue::from_str(&format!("token {}", token.expose_secret()))
                .map_err(|_| anyhow!("GitHub token holds characters not allowed in a header"))?;
            value.set_sensitive(true);
            Ok(value)
        })
        .transpose()
}

/// The HTTP client of a GitHub adapter.
fn http_client(
    connect: Duration,
    total: Duration,
    redirect: reqwest::redirect::Policy,
) -> anyhow::Result<Client> {
    crate::adapters::ensure_tls_provider();
    Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .user_agent(concat!("study-mode-api/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect)
        .build()
        .context("build GitHub HTTP client")
}

/// `{base}/{repo}/{branch}/{prefix}` with the slashes between parts normalised.
fn url_prefix(settings: &GithubSettings) -> anyhow::Result<String> {
    let base = settings.raw_base_url.trim().trim_end_matches('/');
    let parsed = url::Url::parse(base).context("GitHub raw base URL is not a URL")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("GitHub raw base URL must be http or https");
    }
    let repo = settings.repo.trim().trim_matches('/');
    let branch = settings.branch.trim().trim_matches('/');
    if repo.is_empty() || branch.is_empty() {
        bail!("GitHub repository and branch must not be empty");
    }
    let prefix = settings.docs_prefix.trim().trim_matches('/');
    let mut url = format!("{base}/{repo}/{branch}");
    if !prefix.is_empty() {
        url.push('/');
        url.push_str(prefix);
    }
    Ok(url)
}

/// Guards against `LessonPath::new_unchecked` misuse: URL normalisation would resolve `..`.
fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// A 429, or a 403 carrying rate-limit headers, as [`LessonSourceError::Backoff`] with the
/// time GitHub asked for; `None` for any other answer (a plain 403 is a failure like a 500).
fn rate_limit_refusal(status: StatusCode, headers: &HeaderMap) -> Option<LessonSourceError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after");
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let throttled = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted));
    if !throttled {
        return None;
    }
    Some(LessonSourceError::Backoff {
        retry_after: backoff_hint(retry_after, header("x-ratelimit-reset"), chrono::Utc::now()),
        reason: format!("GitHub answered {} (rate limited)", status.as_u16()),
    })
}

/// How long GitHub asked to be left alone: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (Unix seconds) from `now`. Unparseable or past values give `None`;
/// the breaker caps whatever comes back, so a huge value cannot disable the source for long.
fn backoff_hint(
    retry_after: Option<&str>,
    reset: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let until = |at: chrono::DateTime<chrono::Utc>| (at - now).to_std().ok();
    if let Some(value) = retry_after.map(str::trim) {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
            return until(at.to_utc());
        }
    }
    let reset: i64 = reset?.trim().parse().ok()?;
    until(chrono::DateTime::from_timestamp(reset, 0)?)
}

/// A short, secret-free description of a transport failure.
fn transport_error(error: reqwest::Error) -> LessonSourceError {
    let what = if error.is_timeout() {
        "GitHub timed out"
    } else if error.is_connect() {
        "GitHub unreachable"
    } else if error.is_redirect() {
        "GitHub redirected too often"
    } else if error.is_body() || error.is_decode() {
        "GitHub response body failed"
    } else {
        "GitHub request failed"
    };
    LessonSourceError::Unavailable(what.to_string())
}
