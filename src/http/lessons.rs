//! `GET /v1/lessons` and `GET /chatkit/suggestions`: lessons as the tutor sees them, through
//! the lesson cache, with HTTP validators so clients can revalidate cheaply.

pub mod dto;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use sha2::{Digest, Sha256};

pub use dto::*;

use super::auth;
use super::error::{ApiError, configured};
use super::prebuilt::PrebuiltJson;
use super::tags::ApiTags;
use crate::app::lessons::{LessonError, LessonService, LessonView};
use crate::config::Config;
use crate::domain::lesson::{LessonPath, ParsedLesson};
use crate::domain::suggestions::{MAX_SUGGESTIONS, suggestions};

/// `Cache-Control` of a lesson: per user (it sits behind authentication), briefly reusable.
pub const LESSON_CACHE_CONTROL: &str = "private, max-age=60";

/// Serialised lessons kept (by path) for this many seconds after their last read; at most as
/// many as the in-process lesson cache holds (`LESSON_L1_CAPACITY`).
const RENDERED_IDLE: Duration = Duration::from_secs(600);

/// The `ETag` and JSON body of one loaded copy of a lesson, made on its first read so cache
/// hits send bytes instead of cloning and serialising ~5 KB of text per request.
struct Rendered {
    /// The copy these bytes describe; held so the pointer compared in [`Rendered::describes`]
    /// cannot be reused by another lesson.
    lesson: Arc<ParsedLesson>,
    fetched_at: i64,
    cached: bool,
    stale: bool,
    etag: String,
    body: Bytes,
}

impl Rendered {
    fn new(view: &LessonView, source: LessonOrigin) -> Self {
        let lesson = &view.lesson;
        Self {
            lesson: Arc::clone(lesson),
            fetched_at: view.fetched_at,
            cached: view.cached,
            stale: view.stale,
            etag: lesson_etag(lesson.path.as_str(), &lesson.body),
            body: PrebuiltJson::serialise(&LessonOut::new(view, source)),
        }
    }

    /// Whether this is exactly what `view` would render to.
    fn describes(&self, view: &LessonView) -> bool {
        Arc::ptr_eq(&self.lesson, &view.lesson)
            && self.fetched_at == view.fetched_at
            && self.cached == view.cached
            && self.stale == view.stale
    }
}

/// The lesson endpoints.
pub struct LessonsApi {
    /// `None` only in the instance built to print the spec.
    lessons: Option<Arc<LessonService>>,
    config: Arc<Config>,
    rendered: moka::sync::Cache<String, Arc<Rendered>>,
}

impl LessonsApi {
    /// The endpoints over the lesson use cases (`None`: spec generation only).
    pub fn new(lessons: Option<Arc<LessonService>>, config: Arc<Config>) -> Self {
        let rendered = moka::sync::Cache::builder()
            .max_capacity(config.lessons.l1_capacity)
            .time_to_idle(RENDERED_IDLE)
            .build();
        Self {
            lessons,
            config,
            rendered,
        }
    }

    /// The `ETag` and body of `view`, made once per loaded copy.
    fn render(&self, view: &LessonView) -> Arc<Rendered> {
        let key = view.lesson.path.as_str();
        if let Some(done) = self.rendered.get(key).filter(|r| r.describes(view)) {
            return done;
        }
        let fresh = Arc::new(Rendered::new(view, self.origin()));
        self.rendered.insert(key.to_string(), Arc::clone(&fresh));
        fresh
    }

    fn lessons(&self) -> Result<&Arc<LessonService>, ApiError> {
        configured(&self.lessons, "lessons")
    }

    /// Validates `raw` before anything is asked of the source, then loads the lesson for
    /// `user` (whose budget of upstream fetches a miss spends).
    async fn load(&self, raw: &str, user: &str) -> Result<LessonView, ApiError> {
        let path = LessonPath::parse(raw)
            .map_err(|e| ApiError::bad_request("invalid_lesson_path", e.to_string()))?;
        self.lessons()?
            .load(&path, user)
            .await
            .map_err(lesson_error)
    }

    fn origin(&self) -> LessonOrigin {
        if self.config.lessons.dir.is_some() {
            LessonOrigin::Local
        } else {
            LessonOrigin::Github
        }
    }
}

pub(crate) fn lesson_error(err: LessonError) -> ApiError {
    match err {
        LessonError::NotFound => {
            ApiError::not_found("lesson_not_found", "no lesson exists at this path")
        }
        LessonError::Unavailable => ApiError::unavailable(
            "lesson_unavailable",
            "the lesson cannot be loaded right now; retry shortly",
        ),
        LessonError::SourceBackingOff { retry_after } => ApiError::unavailable_for(
            "lesson_unavailable",
            "the lesson source is throttled and this lesson is not cached; retry after Retry-After seconds",
            retry_after,
        ),
        LessonError::FetchBudgetExhausted { limit, retry_after } => ApiError::rate_limited(
            format!(
                "lesson fetch quota exceeded: {limit} uncached lessons per minute; cached lessons are still served"
            ),
            limit,
            "minute",
            retry_after,
        ),
    }
}

/// Strong `ETag` of a lesson: the first 16 bytes of SHA-256 over its path and content, so it
/// changes whenever what the client would render changes and never between replicas.
pub fn lesson_etag(path: &str, content: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(path.as_bytes());
    // The separator keeps ("a", "bc") and ("ab", "c") apart.
    hash.update([0u8]);
    hash.update(content.as_bytes());
    let digest = hash.finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` value matches `etag`; weak comparison as RFC 9110 §13.1.2
/// requires, so `W/"x"` matches `"x"`, and `*` matches any current representation.
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl LessonsApi {
    /// Read a lesson
    ///
    /// The lesson as the tutor teaches it: title, cleaned markdown and teaching steps, from
    /// the cache when possible. A copy past its freshness is served with `stale: true` when
    /// the source fails. Send the `ETag` back in `If-None-Match` to get 304 when unchanged.
    #[oai(
        path = "/v1/lessons",
        method = "get",
        operation_id = "getLesson",
        tag = "ApiTags::Lessons"
    )]
    async fn get_lesson(
        &self,
        req: &Request,
        /// Lesson path, e.g. `01-Part/02-Chapter/03-lesson` (a `docs/` prefix and an `.md`
        /// or `.mdx` extension are accepted and removed).
        path: Query<String>,
        /// `ETag`s of copies the client holds.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<LessonResponse, ApiError> {
        let who = auth::caller(req, crate::domain::rate_limit::Bucket::Api).await?;
        let view = self.load(&path.0, &who.user_id).await?;
        let rendered = self.render(&view);
        let etag = rendered.etag.clone();
        let cache_control = LESSON_CACHE_CONTROL.to_string();
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|h| if_none_match_matches(h, &etag))
        {
            return Ok(LessonResponse::NotModified(etag, cache_control));
        }
        Ok(LessonResponse::Ok(
            PrebuiltJson::new(rendered.body.clone()),
            etag,
            cache_control,
        ))
    }

    /// Starter prompts for a lesson
    ///
    /// Up to four prompts for the panel's empty state (teach the lesson, explain a section,
    /// quiz on a section, summarise), derived from the lesson's teaching steps.
    #[oai(
        path = "/chatkit/suggestions",
        method = "get",
        operation_id = "getSuggestions",
        tag = "ApiTags::ChatKit"
    )]
    async fn get_suggestions(
        &self,
        req: &Request,
        /// Lesson the panel is open on, e.g. `01-Part/02-Chapter/03-lesson`.
        lesson_path: Query<String>,
    ) -> Result<SuggestionsResponse, ApiError> {
        let who = auth::caller(req, crate::domain::rate_limit::Bucket::Api).await?;
        let view = self.load(&lesson_path.0, &who.user_id).await?;
        let lesson = &view.lesson;
        Ok(SuggestionsResponse::Ok(Json(SuggestionsOut {
            lesson_path: lesson.path.as_str().to_string(),
            title: lesson.title.clone(),
            suggestions: suggestions(lesson, MAX_SUGGESTIONS)
                .into_iter()
                .map(SuggestionOut::from)
                .collect(),
        })))
    }
}
