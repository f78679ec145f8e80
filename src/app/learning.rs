//! Learner progress and question analytics: the use cases behind `GET /v1/progress`,
//! `GET /v1/progress/lesson`, `GET /admin/analytics/questions` and
//! `study-mode-api report questions`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::learning::{
    self, LessonProgress, MAX_ANALYTICS_STATES, MAX_USER_STATES, QuestionAnalytics,
};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{LearningStore, StoreError};
use crate::domain::principal::Principal;

/// Most section headings read for one analytics report.
const MAX_SECTION_TITLES: u32 = 20_000;

/// The learning use cases over the stored study states.
pub struct LearningService {
    store: Arc<dyn LearningStore>,
}

impl LearningService {
    /// The use cases over `store`.
    pub fn new(store: Arc<dyn LearningStore>) -> Self {
        Self { store }
    }

    /// Every lesson the caller studied in teach mode, most recently studied first (at most
    /// [`learning::MAX_PROGRESS_LESSONS`]); several threads of one lesson make one record.
    ///
    /// # Errors
    /// Store failures.
    pub async fn progress(&self, who: &Principal) -> Result<Vec<LessonProgress>, StoreError> {
        let records = self
            .store
            .user_records(&who.user_id, None, MAX_USER_STATES)
            .await?;
        Ok(learning::progress(&records))
    }

    /// The caller's progress on one lesson; `None` when they never studied it in teach mode.
    ///
    /// # Errors
    /// Store failures.
    pub async fn lesson_progress(
        &self,
        who: &Principal,
        path: &LessonPath,
    ) -> Result<Option<LessonProgress>, StoreError> {
        let records = self
            .store
            .user_records(&who.user_id, Some(path), MAX_USER_STATES)
            .await?;
        Ok(learning::progress(&records).into_iter().next())
    }

    /// Question analytics of one lesson, or of every lesson studied (the most recent
    /// [`MAX_ANALYTICS_STATES`] study states), with the section headings of the synced book.
    ///
    /// # Errors
    /// Store failures.
    pub async fn question_analytics(
        &self,
        path: Option<&LessonPath>,
    ) -> Result<QuestionAnalytics, StoreError> {
        let records = self
            .store
            .lesson_records(path, MAX_ANALYTICS_STATES)
            .await?;
        let truncated = records.len() >= usize::try_from(MAX_ANALYTICS_STATES).unwrap_or(0);
        let feedback = self.store.section_feedback(path).await?;
        let mut report = learning::analytics(&records, &feedback, truncated);
        let titles: BTreeMap<(String, u32), String> = self
            .store
            .section_titles(path, MAX_SECTION_TITLES)
            .await?
            .into_iter()
            .map(|t| ((t.lesson_path.as_str().to_string(), t.section), t.title))
            .collect();
        for row in &mut report.sections {
            let key = (row.lesson_path.as_str().to_string(), row.section);
            row.title = titles.get(&key).cloned();
        }
        Ok(report)
    }
}
