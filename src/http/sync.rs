//! The book sync over HTTP: `POST /admin/book/sync` starts one; `GET /v1/jobs/{id}` and its
//! `/events` stream follow it; `GET /v1/lessons/progress`, `GET /v1/book/toc` and
//! `GET /v1/book/quality` read what the syncs left.

pub mod dto;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};

use super::admin::raw_body::RawJson;
use super::error::{ApiError, configured};
use super::tags::ApiTags;
use crate::app::sync::{SyncError, SyncService};
use crate::domain::lesson::LessonPath;
use crate::domain::rate_limit::Bucket;
use crate::domain::sync::{MAX_SYNC_PATHS, RunReport, SyncRunId, SyncScope};
pub use dto::*;

/// How often the event stream reads the job.
const EVENT_POLL: Duration = Duration::from_millis(500);
/// Longest an event stream stays open; a client reconnects to follow a longer job.
const EVENT_STREAM_LIMIT: Duration = Duration::from_secs(1_800);

/// The book sync endpoints.
pub struct SyncApi {
    /// `None` only in the instance built to print the spec.
    sync: Option<Arc<SyncService>>,
}

impl SyncApi {
    /// The endpoints over the sync (`None`: spec generation only).
    pub fn new(sync: Option<Arc<SyncService>>) -> Self {
        Self { sync }
    }

    fn sync(&self) -> Result<&Arc<SyncService>, ApiError> {
        configured(&self.sync, "book sync")
    }
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(e) => e.into(),
            SyncError::Queue(_) => ApiError::unavailable(
                "queue_unavailable",
                "the job queue cannot be reached; retry shortly",
            ),
            SyncError::TooManyPaths => ApiError::bad_request(
                "bad_request",
                format!("at most {MAX_SYNC_PATHS} paths per sync"),
            ),
        }
    }
}

fn job_id(raw: &str) -> Result<SyncRunId, ApiError> {
    SyncRunId::parse(raw).map_err(|_| ApiError::not_found("job_not_found", "no such job"))
}

async fn job(sync: &SyncService, id: &SyncRunId) -> Result<RunReport, ApiError> {
    sync.report(id)
        .await?
        .ok_or_else(|| ApiError::not_found("job_not_found", "no such job"))
}

/// The paths of a sync body: empty body, `{}` or no `paths` → the whole book.
fn scope(body: &[u8]) -> Result<SyncScope, ApiError> {
    if body.trim_ascii().is_empty() {
        return Ok(SyncScope::Book);
    }
    let malformed = || {
        ApiError::bad_request(
            "bad_request",
            "body must be a JSON object with an optional \"paths\" array of lesson paths",
        )
    };
    let body: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed())?;
    let raw: Vec<String> = match body.as_object().ok_or_else(malformed)?.get("paths") {
        None => return Ok(SyncScope::Book),
        // `null` included: the spec's array is not nullable.
        Some(list) => serde_json::from_value(list.clone()).map_err(|_| malformed())?,
    };
    if raw.is_empty() {
        return Ok(SyncScope::Book);
    }
    if raw.len() > MAX_SYNC_PATHS {
        return Err(SyncError::TooManyPaths.into());
    }
    super::admin::lesson_paths(&raw).map(SyncScope::Paths)
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl SyncApi {
    /// Sync the book
    ///
    /// Queues a sync of the whole book (no body, `{}`, or no `paths`), or of the lessons
    /// named in `paths` (at most 500): each lesson is fetched (a conditional request, so an
    /// unchanged one costs no download) into the lesson cache, checked for the problems an
    /// author must fix, placed in the table of contents, linked, and indexed for search.
    /// Answers at once with the job id; follow it at `GET /v1/jobs/{id}` or
    /// `GET /v1/jobs/{id}/events`. Needs an API key with the `admin` scope, or the operator
    /// secret in `X-Admin-Secret`.
    #[oai(
        path = "/admin/book/sync",
        method = "post",
        operation_id = "syncBook",
        tag = "ApiTags::Book"
    )]
    async fn sync_book(
        &self,
        req: &Request,
        /// `{"paths": [...]}`; empty for the whole book.
        body: RawJson<SyncIn, false>,
    ) -> Result<SyncResponse, ApiError> {
        let operator = super::auth::principal(req)?;
        let scope = scope(&body.bytes)?;
        let id = self.sync()?.start(scope, &operator.user_id).await?;
        Ok(SyncResponse::Queued(Json(SyncQueuedOut {
            status_url: format!("/v1/jobs/{id}"),
            events_url: format!("/v1/jobs/{id}/events"),
            job_id: id.to_string(),
            status: "queued".into(),
        })))
    }

    /// Retry a sync job's dead lessons
    ///
    /// Puts back on the queue every lesson of the job whose tries all failed (and the job's
    /// listing, when that is what died), with its tries reset; answers how many. Fix the
    /// cause first (the failures of `GET /v1/jobs/{id}` say what it was). Needs an API key
    /// with the `admin` scope, or the operator secret in `X-Admin-Secret`.
    #[oai(
        path = "/admin/jobs/:id/retry",
        method = "post",
        operation_id = "retryJob",
        tag = "ApiTags::Book"
    )]
    async fn retry_job(
        &self,
        /// The job id.
        #[oai(validator(max_length = 36))]
        id: Path<String>,
    ) -> Result<RetryResponse, ApiError> {
        let id = job_id(&id.0)?;
        let retried = self
            .sync()?
            .retry(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("job_not_found", "no such job"))?;
        Ok(RetryResponse::Ok(Json(RetryOut {
            job_id: id.to_string(),
            retried,
        })))
    }

    /// Get a sync job
    ///
    /// Where a sync stands: its status, lessons per outcome, lessons per stage and status,
    /// when it started and ended, and the lessons whose last try failed.
    #[oai(
        path = "/v1/jobs/:id",
        method = "get",
        operation_id = "getJob",
        tag = "ApiTags::Book"
    )]
    async fn get_job(
        &self,
        req: &Request,
        /// The job id `POST /admin/book/sync` answered.
        #[oai(validator(max_length = 36))]
        id: Path<String>,
    ) -> Result<JobResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let sync = self.sync()?;
        let report = job(sync, &job_id(&id.0)?).await?;
        let stages = sync.stage_counts(&report).await;
        Ok(JobResponse::Ok(Json(JobOut::new(&report, &stages))))
    }

    /// Follow a sync job
    ///
    /// Server-sent events: a `progress` event with the job (as `GET /v1/jobs/{id}` answers
    /// it) at once and whenever it changes, the last one when the job ends; then the stream
    /// closes. A stream also closes after 30 minutes; reconnect to go on following.
    #[oai(
        path = "/v1/jobs/:id/events",
        method = "get",
        operation_id = "followJob",
        tag = "ApiTags::Book"
    )]
    async fn job_events(
        &self,
        req: &Request,
        /// The job id.
        #[oai(validator(max_length = 36))]
        id: Path<String>,
    ) -> Result<JobEventsResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let sync = self.sync()?.clone();
        let id = job_id(&id.0)?;
        job(&sync, &id).await?;
        let deadline = tokio::time::Instant::now() + EVENT_STREAM_LIMIT;
        let events = futures::stream::unfold(
            (sync, id, None::<String>, false),
            move |(sync, id, last, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    let report = sync.report(&id).await.ok().flatten()?;
                    let stages = sync.stage_counts(&report).await;
                    let out = JobOut::new(&report, &stages);
                    let seen = serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&out))
                        .unwrap_or_default();
                    let done = report.status().is_final();
                    if last.as_deref() != Some(seen.as_str()) {
                        return Some((out, (sync, id, Some(seen), done)));
                    }
                    tokio::time::sleep(EVENT_POLL).await;
                }
            },
        )
        .boxed();
        Ok(JobEventsResponse::Events(
            EventStream::new(events)
                .keep_alive(Duration::from_secs(15))
                .to_event(|e| {
                    poem::web::sse::Event::message(
                        serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&e))
                            .unwrap_or_default(),
                    )
                    .event_type("progress")
                }),
        ))
    }

    /// Get a lesson's sync progress
    ///
    /// The lesson's stages in its latest sync (`ingestion`, `quality`, `taxonomy`, `graph`,
    /// `embedding`), each with its status, error and time, and the overall status. A lesson
    /// never synced, or whose record expired (`PROGRESS_TTL_SECS`), reads all `PENDING`.
    #[oai(
        path = "/v1/lessons/progress",
        method = "get",
        operation_id = "getLessonProgress",
        tag = "ApiTags::Book"
    )]
    async fn lesson_progress(
        &self,
        req: &Request,
        /// The lesson path, e.g. `01-Introducing-AI-Driven-Development/01-intro`.
        #[oai(validator(max_length = 300))]
        path: Query<String>,
    ) -> Result<LessonProgressResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let path = LessonPath::parse(&path.0)
            .map_err(|e| ApiError::bad_request("invalid_lesson_path", e.to_string()))?;
        let progress = self.sync()?.lesson_progress(&path).await;
        Ok(LessonProgressResponse::Ok(Json((&progress).into())))
    }

    /// Get the table of contents
    ///
    /// The synced book: parts, chapters and lessons in reading order (folder numbers, then
    /// `sidebar_position`), each lesson with the one before and after it and the lessons that
    /// link to it. Empty until a sync ran.
    #[oai(
        path = "/v1/book/toc",
        method = "get",
        operation_id = "getBookToc",
        tag = "ApiTags::Book"
    )]
    async fn toc(&self, req: &Request) -> Result<TocResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let book = self.sync()?.book().await?;
        Ok(TocResponse::Ok(Json((&book).into())))
    }

    /// Get the quality report
    ///
    /// What content authors must fix, lesson by lesson: missing or empty titles, nothing to
    /// teach, sections too short or too long, broken links to other lessons, images without
    /// alt text, front matter that does not parse. Empty until a sync ran.
    #[oai(
        path = "/v1/book/quality",
        method = "get",
        operation_id = "getBookQuality",
        tag = "ApiTags::Book"
    )]
    async fn quality(&self, req: &Request) -> Result<QualityResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let book = self.sync()?.book().await?;
        Ok(QualityResponse::Ok(Json((&book).into())))
    }
}
