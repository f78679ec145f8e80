//! Loading lessons for prompts: fetch through the `LessonSource` port, then parse.

use std::sync::Arc;

use crate::domain::lesson::{LessonPath, ParsedLesson, parse_lesson};
use crate::domain::ports::{LessonSource, LessonSourceError};

/// Why a lesson could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LessonError {
    /// The source positively says it does not exist.
    #[error("lesson not found")]
    NotFound,
    /// The source failed and nothing usable is cached.
    #[error("lesson unavailable")]
    Unavailable,
}

/// Lessons for the tutor.
#[derive(Clone)]
pub struct Lessons {
    source: Arc<dyn LessonSource>,
}

impl Lessons {
    /// Lessons from `source`.
    pub fn new(source: Arc<dyn LessonSource>) -> Self {
        Self { source }
    }

    /// Fetches and parses a lesson.
    ///
    /// # Errors
    /// [`LessonError::NotFound`] or [`LessonError::Unavailable`].
    pub async fn load(&self, path: &LessonPath) -> Result<ParsedLesson, LessonError> {
        match self.source.fetch(path).await {
            Ok(raw) => Ok(parse_lesson(path, &raw.markdown)),
            Err(LessonSourceError::NotFound) => Err(LessonError::NotFound),
            Err(LessonSourceError::Unavailable(reason)) => {
                tracing::warn!(lesson = path.as_str(), reason = %reason, "lesson source failed");
                Err(LessonError::Unavailable)
            }
        }
    }
}
