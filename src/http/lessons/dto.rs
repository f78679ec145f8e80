//! Wire types of the lesson endpoints: the poem-openapi objects and responses of
//! `/v1/lessons` and `/chatkit/suggestions`.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};

use super::super::prebuilt::PrebuiltJson;
use crate::app::lessons::LessonView;
use crate::domain::suggestions::Suggestion;

/// Where the service reads lessons from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LessonOrigin {
    /// A local folder (`LESSONS_DIR`).
    Local,
    /// Raw files of the book's GitHub repository.
    Github,
}

/// One teaching step of a lesson.
#[derive(Debug, Object)]
pub struct ChunkOut {
    /// Position in the lesson, from 0.
    pub index: u32,
    /// Section heading (the lesson title for the introduction).
    pub title: String,
}

/// A lesson as the tutor teaches it.
#[derive(Debug, Object)]
pub struct LessonOut {
    /// Normalised lesson path, without extension.
    pub path: String,
    /// Lesson title.
    pub title: String,
    /// Lesson markdown without front matter and MDX imports.
    pub content: String,
    /// Teaching steps in order.
    pub chunks: Vec<ChunkOut>,
    /// Where the lesson was read from.
    pub source: LessonOrigin,
    /// True when served from the cache without an upstream request.
    pub cached: bool,
    /// True when the copy is past its freshness, served because the source failed.
    pub stale: bool,
    /// When this copy was read from the source (RFC 3339).
    pub fetched_at: DateTime<Utc>,
}

impl LessonOut {
    /// The wire form of a loaded lesson.
    pub fn new(view: &LessonView, source: LessonOrigin) -> Self {
        let lesson = &view.lesson;
        Self {
            path: lesson.path.as_str().to_string(),
            title: lesson.title.clone(),
            content: lesson.body.clone(),
            chunks: lesson
                .chunks
                .iter()
                .map(|c| ChunkOut {
                    index: c.index,
                    title: c.title.clone(),
                })
                .collect(),
            source,
            cached: view.cached,
            stale: view.stale,
            // Timestamps come from this process's clock, so they are always representable.
            fetched_at: DateTime::from_timestamp(view.fetched_at, 0).unwrap_or_default(),
        }
    }
}

/// One starter prompt of the panel's empty state.
#[derive(Debug, Object)]
pub struct SuggestionOut {
    /// Button text, at most 60 characters.
    pub label: String,
    /// Message sent to the tutor when the button is pressed.
    pub prompt: String,
}

impl From<Suggestion> for SuggestionOut {
    fn from(s: Suggestion) -> Self {
        Self {
            label: s.label,
            prompt: s.prompt,
        }
    }
}

/// Starter prompts for a lesson.
#[derive(Debug, Object)]
pub struct SuggestionsOut {
    /// Normalised lesson path.
    pub lesson_path: String,
    /// Lesson title.
    pub title: String,
    /// At most four prompts, unique labels.
    pub suggestions: Vec<SuggestionOut>,
}

/// A lesson, or confirmation that the client's copy is current.
#[derive(ApiResponse)]
pub enum LessonResponse {
    /// The lesson, with a strong `ETag` of its path and content.
    #[oai(status = 200)]
    Ok(
        PrebuiltJson<LessonOut>,
        /// Strong validator of the lesson's path and content.
        #[oai(header = "ETag")]
        String,
        /// `private, max-age=60`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// `If-None-Match` matched the current `ETag`; no body.
    #[oai(status = 304)]
    NotModified(
        /// The current `ETag`.
        #[oai(header = "ETag")]
        String,
        /// `private, max-age=60`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

/// Starter prompts.
#[derive(ApiResponse)]
pub enum SuggestionsResponse {
    /// The prompts.
    #[oai(status = 200)]
    Ok(Json<SuggestionsOut>),
}
