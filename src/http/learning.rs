//! What learners studied: `GET /v1/progress` and `GET /v1/progress/lesson` for the caller, and
//! `GET /admin/analytics/questions` for authors.

pub mod dto;

use std::sync::Arc;

use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

use super::error::{ApiError, configured};
use super::tags::ApiTags;
use crate::app::learning::LearningService;
use crate::domain::lesson::LessonPath;
use crate::domain::rate_limit::Bucket;
pub use dto::*;

/// The learning endpoints.
pub struct LearningApi {
    /// `None` only in the instance built to print the spec.
    learning: Option<Arc<LearningService>>,
}

impl LearningApi {
    /// The endpoints over the learning use cases (`None`: spec generation only).
    pub fn new(learning: Option<Arc<LearningService>>) -> Self {
        Self { learning }
    }

    fn learning(&self) -> Result<&Arc<LearningService>, ApiError> {
        configured(&self.learning, "learning")
    }
}

fn lesson_path(raw: &str) -> Result<LessonPath, ApiError> {
    LessonPath::parse(raw).map_err(|e| ApiError::bad_request("invalid_lesson_path", e.to_string()))
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl LearningApi {
    /// Get my progress
    ///
    /// Every lesson the caller studied in teach mode, most recently studied first (at most
    /// 500): sections finished of the lesson's total, questions right at the first try, after
    /// a hint or after wrong answers, revealed and skipped, whether the lesson was finished,
    /// and when it was last studied. Several threads of one lesson make one record (each
    /// section counts once, with the best outcome any thread reached).
    #[oai(
        path = "/v1/progress",
        method = "get",
        operation_id = "getMyProgress",
        tag = "ApiTags::Learning"
    )]
    async fn progress(&self, req: &Request) -> Result<ProgressResponse, ApiError> {
        let who = super::auth::caller(req, Bucket::Api).await?;
        let lessons = self.learning()?.progress(&who).await?;
        Ok(ProgressResponse::Ok(Json(ProgressOut {
            lessons: lessons.iter().map(Into::into).collect(),
        })))
    }

    /// Get my progress on a lesson
    ///
    /// The caller's record of one lesson, as `GET /v1/progress` lists it; 404
    /// `lesson_not_studied` when the caller never studied it in teach mode.
    #[oai(
        path = "/v1/progress/lesson",
        method = "get",
        operation_id = "getMyLessonProgress",
        tag = "ApiTags::Learning"
    )]
    async fn lesson_progress(
        &self,
        req: &Request,
        /// The lesson path, e.g. `01-Introducing-AI-Driven-Development/01-intro`.
        #[oai(validator(max_length = 300))]
        path: Query<String>,
    ) -> Result<LessonProgressRecordResponse, ApiError> {
        let who = super::auth::caller(req, Bucket::Api).await?;
        let path = lesson_path(&path.0)?;
        let record = self
            .learning()?
            .lesson_progress(&who, &path)
            .await?
            .ok_or_else(|| {
                ApiError::not_found("lesson_not_studied", "you have not studied this lesson yet")
            })?;
        Ok(LessonProgressRecordResponse::Ok(Json((&record).into())))
    }

    /// Get question analytics
    ///
    /// For authors: per lesson and section, how many distinct students finished it, how many
    /// answered its question and how many of them at the first try (and the rate), after a
    /// hint or after wrong answers, whose answer was revealed, who skipped, the hints asked
    /// for, and the thumbs up and down the tutor's messages about that section received.
    /// Without `path`, every lesson (the 20,000 most recently updated study states). Needs an
    /// API key with the `admin` scope, or the operator secret in `X-Admin-Secret`.
    #[oai(
        path = "/admin/analytics/questions",
        method = "get",
        operation_id = "getQuestionAnalytics",
        tag = "ApiTags::Learning"
    )]
    async fn question_analytics(
        &self,
        /// One lesson's path; every lesson when absent.
        #[oai(validator(max_length = 300))]
        path: Query<Option<String>>,
    ) -> Result<QuestionAnalyticsResponse, ApiError> {
        let path = path.0.as_deref().map(lesson_path).transpose()?;
        let report = self.learning()?.question_analytics(path.as_ref()).await?;
        Ok(QuestionAnalyticsResponse::Ok(Json((&report).into())))
    }
}
