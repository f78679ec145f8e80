//! Port of learner progress and question analytics: the stored study states selected by
//! learner or by lesson, and the ratings of the tutor's messages per lesson section.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::learning::{SectionFeedback, StudyRecord};
use crate::domain::lesson::LessonPath;

/// A section heading of the synced book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionTitle {
    /// The lesson.
    pub lesson_path: LessonPath,
    /// The section (0-based).
    pub section: u32,
    /// Its heading.
    pub title: String,
}

/// Reads behind `GET /v1/progress` and `GET /admin/analytics/questions`.
#[async_trait]
pub trait LearningStore: Send + Sync + 'static {
    /// The teach-mode study states of `user_id`'s threads (of `lesson` only, when given), most
    /// recently updated first, at most `limit`.
    async fn user_records(
        &self,
        user_id: &str,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<StudyRecord>, StoreError>;

    /// Every student's teach-mode study states (of `lesson` only, when given), most recently
    /// updated first, at most `limit`.
    async fn lesson_records(
        &self,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<StudyRecord>, StoreError>;

    /// Ratings of the tutor's teach-mode messages counted per lesson, section and kind (of
    /// `lesson` only, when given).
    async fn section_feedback(
        &self,
        lesson: Option<&LessonPath>,
    ) -> Result<Vec<SectionFeedback>, StoreError>;

    /// Section headings of the synced book (of `lesson` only, when given), at most `limit`.
    async fn section_titles(
        &self,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<SectionTitle>, StoreError>;
}
