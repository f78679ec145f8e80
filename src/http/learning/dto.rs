//! Wire types of the learning endpoints.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::domain::learning::{LessonProgress, QuestionAnalytics, SectionAnalytics};

/// One lesson the caller studied, every thread of it merged.
#[derive(Debug, Clone, Object)]
pub struct LessonProgressRecordOut {
    /// The lesson's path.
    pub path: String,
    /// Sections of the lesson (0 when unknown).
    pub sections_total: u32,
    /// Sections finished in any thread (answered, revealed, skipped or moved past).
    pub sections_completed: u32,
    /// Questions answered right at the first try.
    pub right_first_try: u32,
    /// Questions answered right after a hint.
    pub right_after_hint: u32,
    /// Questions answered right after wrong answers.
    pub right_after_retries: u32,
    /// Questions whose answer was revealed after three wrong answers.
    pub revealed: u32,
    /// Questions skipped.
    pub skipped: u32,
    /// Whether the lesson was finished (in any thread).
    pub completed: bool,
    /// Last turn on the lesson (RFC 3339).
    pub last_studied: String,
    /// Threads of the lesson this record merges.
    pub threads: u32,
}

impl From<&LessonProgress> for LessonProgressRecordOut {
    fn from(p: &LessonProgress) -> Self {
        Self {
            path: p.lesson_path.as_str().to_string(),
            sections_total: p.sections_total,
            sections_completed: p.sections_completed,
            right_first_try: p.right_first_try,
            right_after_hint: p.right_after_hint,
            right_after_retries: p.right_after_retries,
            revealed: p.revealed,
            skipped: p.skipped,
            completed: p.completed,
            last_studied: p
                .last_studied
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            threads: p.threads,
        }
    }
}

/// The caller's progress.
#[derive(Debug, Clone, Object)]
pub struct ProgressOut {
    /// Lessons studied in teach mode, most recently studied first (at most 500).
    pub lessons: Vec<LessonProgressRecordOut>,
}

/// `GET /v1/progress` answers.
#[derive(ApiResponse)]
pub enum ProgressResponse {
    /// The caller's lessons (empty before any teach-mode turn).
    #[oai(status = 200)]
    Ok(Json<ProgressOut>),
}

/// `GET /v1/progress/lesson` answers.
#[derive(ApiResponse)]
pub enum LessonProgressRecordResponse {
    /// The caller's progress on the lesson.
    #[oai(status = 200)]
    Ok(Json<LessonProgressRecordOut>),
}

/// How one section's questions went across students.
#[derive(Debug, Clone, Object)]
pub struct SectionAnalyticsOut {
    /// The lesson's path.
    pub path: String,
    /// The section's position in the lesson, from 0.
    pub section: u32,
    /// The section's heading, when the synced book has it.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<String>,
    /// Distinct students who finished the section.
    pub students: u32,
    /// Of them, those who answered its question (right, or wrong until it was revealed).
    pub answered: u32,
    /// Those right at the first try.
    pub first_try: u32,
    /// `first_try / answered`, when anyone answered.
    #[oai(skip_serializing_if_is_none)]
    pub first_try_rate: Option<f64>,
    /// Those right after a hint.
    pub after_hint: u32,
    /// Those right after wrong answers.
    pub after_retries: u32,
    /// Those whose answer was revealed after three wrong answers.
    pub revealed: u32,
    /// Those who skipped it.
    pub skipped: u32,
    /// Hints asked for on it, all students together.
    pub hints: u32,
    /// Wrong answers given on it, all students together.
    pub wrong_answers: u32,
    /// Thumbs-up ratings of the tutor's messages about it.
    pub feedback_positive: u64,
    /// Thumbs-down ratings of the tutor's messages about it.
    pub feedback_negative: u64,
}

impl From<&SectionAnalytics> for SectionAnalyticsOut {
    fn from(s: &SectionAnalytics) -> Self {
        Self {
            path: s.lesson_path.as_str().to_string(),
            section: s.section,
            title: s.title.clone(),
            students: s.students,
            answered: s.answered,
            first_try: s.first_try,
            first_try_rate: s.first_try_rate,
            after_hint: s.after_hint,
            after_retries: s.after_retries,
            revealed: s.revealed,
            skipped: s.skipped,
            hints: s.hints,
            wrong_answers: s.wrong_answers,
            feedback_positive: s.positive,
            feedback_negative: s.negative,
        }
    }
}

/// Question analytics.
#[derive(Debug, Clone, Object)]
pub struct QuestionAnalyticsOut {
    /// Distinct students counted.
    pub students: u32,
    /// Sections by lesson path, then position.
    pub sections: Vec<SectionAnalyticsOut>,
    /// Whether only the 20,000 most recently updated study states were counted.
    pub truncated: bool,
}

impl From<&QuestionAnalytics> for QuestionAnalyticsOut {
    fn from(r: &QuestionAnalytics) -> Self {
        Self {
            students: r.students,
            sections: r.sections.iter().map(Into::into).collect(),
            truncated: r.truncated,
        }
    }
}

/// `GET /admin/analytics/questions` answers.
#[derive(ApiResponse)]
pub enum QuestionAnalyticsResponse {
    /// The report (empty before any teach-mode turn).
    #[oai(status = 200)]
    Ok(Json<QuestionAnalyticsOut>),
}
