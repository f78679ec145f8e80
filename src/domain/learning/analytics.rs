//! Question analytics for authors: per lesson and section, how the students' questions went and
//! how they rated the tutor's messages there.

use std::collections::{BTreeMap, BTreeSet};

use super::{StudyRecord, merged_sections};
use crate::domain::lesson::LessonPath;
use crate::domain::teach::Outcome;
use crate::domain::thread::FeedbackKind;

/// Ratings of the tutor's messages about one section, as the store counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionFeedback {
    /// The lesson.
    pub lesson_path: LessonPath,
    /// The section (0-based).
    pub section: u32,
    /// Thumbs up or down.
    pub kind: FeedbackKind,
    /// How many ratings of that kind.
    pub count: u64,
}

/// How one section's questions went across students.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionAnalytics {
    /// The lesson.
    pub lesson_path: LessonPath,
    /// The section (0-based).
    pub section: u32,
    /// Its heading, when the synced book knows it.
    pub title: Option<String>,
    /// Distinct students who finished the section (any outcome).
    pub students: u32,
    /// Of them, those who answered its question (right, or wrong until revealed).
    pub answered: u32,
    /// Of them, those right at the first try.
    pub first_try: u32,
    /// `first_try / answered`, when anyone answered.
    pub first_try_rate: Option<f64>,
    /// Those right after a hint.
    pub after_hint: u32,
    /// Those right after wrong answers.
    pub after_retries: u32,
    /// Those whose answer was revealed.
    pub revealed: u32,
    /// Those who skipped it.
    pub skipped: u32,
    /// Hints asked for on it, all students together.
    pub hints: u32,
    /// Wrong answers given on it, all students together.
    pub wrong_answers: u32,
    /// Thumbs-up ratings of the tutor's messages about it.
    pub positive: u64,
    /// Thumbs-down ratings of the tutor's messages about it.
    pub negative: u64,
}

/// The analytics report.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionAnalytics {
    /// Distinct students in the report.
    pub students: u32,
    /// Sections by lesson path, then position.
    pub sections: Vec<SectionAnalytics>,
    /// Whether only the most recent study states were read (see
    /// [`super::MAX_ANALYTICS_STATES`]).
    pub truncated: bool,
}

fn bump(n: &mut u32, by: u32) {
    *n = n.saturating_add(by);
}

/// The report from every student's `records` (a student's threads of one lesson merged as in
/// their progress) and the stored ratings per section.
pub fn analytics(
    records: &[StudyRecord],
    feedback: &[SectionFeedback],
    truncated: bool,
) -> QuestionAnalytics {
    let mut by_student: BTreeMap<(&str, &str), Vec<&StudyRecord>> = BTreeMap::new();
    for record in records {
        by_student
            .entry((record.lesson_path.as_str(), record.user_id.as_str()))
            .or_default()
            .push(record);
    }
    let students: BTreeSet<&str> = records.iter().map(|r| r.user_id.as_str()).collect();
    let mut sections: BTreeMap<(String, u32), SectionAnalytics> = BTreeMap::new();
    for threads in by_student.values() {
        let path = &threads[0].lesson_path;
        for (section, o) in merged_sections(threads) {
            let row = sections
                .entry((path.as_str().to_string(), section))
                .or_insert_with(|| empty(path, section));
            bump(&mut row.students, 1);
            bump(&mut row.hints, u32::from(o.hints));
            bump(&mut row.wrong_answers, u32::from(o.wrong));
            match o.outcome {
                Outcome::FirstTry => bump(&mut row.first_try, 1),
                Outcome::AfterHint => bump(&mut row.after_hint, 1),
                Outcome::AfterRetries => bump(&mut row.after_retries, 1),
                Outcome::Revealed => bump(&mut row.revealed, 1),
                Outcome::Skipped => bump(&mut row.skipped, 1),
                Outcome::Unchecked => {}
            }
            if o.outcome.answered() {
                bump(&mut row.answered, 1);
            }
        }
    }
    for f in feedback {
        let row = sections
            .entry((f.lesson_path.as_str().to_string(), f.section))
            .or_insert_with(|| empty(&f.lesson_path, f.section));
        match f.kind {
            FeedbackKind::Positive => row.positive = row.positive.saturating_add(f.count),
            FeedbackKind::Negative => row.negative = row.negative.saturating_add(f.count),
        }
    }
    let sections = sections
        .into_values()
        .map(|mut row| {
            row.first_try_rate =
                (row.answered > 0).then(|| f64::from(row.first_try) / f64::from(row.answered));
            row
        })
        .collect();
    QuestionAnalytics {
        students: u32::try_from(students.len()).unwrap_or(u32::MAX),
        sections,
        truncated,
    }
}

fn empty(path: &LessonPath, section: u32) -> SectionAnalytics {
    SectionAnalytics {
        lesson_path: path.clone(),
        section,
        title: None,
        students: 0,
        answered: 0,
        first_try: 0,
        first_try_rate: None,
        after_hint: 0,
        after_retries: 0,
        revealed: 0,
        skipped: 0,
        hints: 0,
        wrong_answers: 0,
        positive: 0,
        negative: 0,
    }
}
