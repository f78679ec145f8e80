//! What students learned, read from their stored study states: each learner's progress per
//! lesson (every thread of one lesson merged into one record), per-section analytics for
//! authors, and the lesson to suggest after one is finished.
//!
//! Pure functions over [`StudyRecord`]s; the store only selects them (see
//! [`crate::domain::ports::LearningStore`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::book::LessonAnalysis;
use super::lesson::LessonPath;
use super::teach::{Outcome, SectionOutcome, StudyState};
use super::tutor::NextLesson;

mod analytics;

pub use analytics::{QuestionAnalytics, SectionAnalytics, SectionFeedback, analytics};

/// Most lessons one learner's progress lists (the most recently studied).
pub const MAX_PROGRESS_LESSONS: usize = 500;

/// Most study states read for one learner (a learner keeps at most this many threads anyway).
pub const MAX_USER_STATES: u32 = 2_000;

/// Most study states read for one analytics report (the most recently updated).
pub const MAX_ANALYTICS_STATES: u32 = 20_000;

/// One thread's stored study state with what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRecord {
    /// The student.
    pub user_id: String,
    /// The thread.
    pub thread_id: String,
    /// The lesson the thread studies.
    pub lesson_path: LessonPath,
    /// Its teaching state.
    pub state: StudyState,
    /// When the state was last written.
    pub updated_at: DateTime<Utc>,
}

/// One learner's progress on one lesson, every thread of it merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonProgress {
    /// The lesson.
    pub lesson_path: LessonPath,
    /// Sections of the lesson (0 when no thread recorded it).
    pub sections_total: u32,
    /// Sections finished (answered, revealed, skipped or moved past) in any thread.
    pub sections_completed: u32,
    /// Questions answered right at the first try.
    pub right_first_try: u32,
    /// Questions answered right after a hint.
    pub right_after_hint: u32,
    /// Questions answered right after wrong answers.
    pub right_after_retries: u32,
    /// Questions whose answer was revealed after too many wrong answers.
    pub revealed: u32,
    /// Questions skipped.
    pub skipped: u32,
    /// Whether the lesson was finished in any thread.
    pub completed: bool,
    /// Last turn on the lesson.
    pub last_studied: DateTime<Utc>,
    /// Threads the record merges.
    pub threads: u32,
}

/// How a learner's threads of one lesson went, section by section: for each section the best
/// outcome any thread reached, and the hints asked for across them.
pub(crate) fn merged_sections(records: &[&StudyRecord]) -> BTreeMap<u32, SectionOutcome> {
    let total = records
        .iter()
        .map(|r| r.state.section_count)
        .max()
        .unwrap_or(0);
    let mut merged: BTreeMap<u32, SectionOutcome> = BTreeMap::new();
    for record in records {
        for o in &record.state.outcomes {
            // A section the lesson no longer has (it shrank) is not counted.
            if total > 0 && o.section >= total {
                continue;
            }
            merged
                .entry(o.section)
                .and_modify(|best| {
                    let hints = best.hints.saturating_add(o.hints);
                    let wrong = best.wrong.saturating_add(o.wrong);
                    // `Outcome` orders best first.
                    if o.outcome < best.outcome {
                        best.outcome = o.outcome;
                    }
                    best.hints = hints;
                    best.wrong = wrong;
                })
                .or_insert(*o);
        }
    }
    merged
}

/// Each lesson's progress from one learner's `records`, most recently studied first, at most
/// [`MAX_PROGRESS_LESSONS`].
pub fn progress(records: &[StudyRecord]) -> Vec<LessonProgress> {
    let mut by_lesson: BTreeMap<&str, Vec<&StudyRecord>> = BTreeMap::new();
    for record in records {
        by_lesson
            .entry(record.lesson_path.as_str())
            .or_default()
            .push(record);
    }
    let mut lessons: Vec<LessonProgress> = by_lesson
        .into_values()
        .filter_map(|threads| lesson_progress(&threads))
        .collect();
    lessons.sort_by(|a, b| {
        b.last_studied
            .cmp(&a.last_studied)
            .then_with(|| a.lesson_path.as_str().cmp(b.lesson_path.as_str()))
    });
    lessons.truncate(MAX_PROGRESS_LESSONS);
    lessons
}

fn lesson_progress(threads: &[&StudyRecord]) -> Option<LessonProgress> {
    let path = &threads.first()?.lesson_path;
    let last_studied = threads.iter().map(|r| r.updated_at).max()?;
    let sections = merged_sections(threads);
    let count = |wanted: Outcome| {
        let n = sections.values().filter(|o| o.outcome == wanted).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let sections_total = threads
        .iter()
        .map(|r| r.state.section_count)
        .max()
        .unwrap_or(0);
    let completed = threads.iter().any(|r| r.state.completed);
    let finished = u32::try_from(sections.len()).unwrap_or(u32::MAX);
    Some(LessonProgress {
        lesson_path: path.clone(),
        sections_total,
        // A completed lesson had every section taught, even ones whose question went unrecorded.
        sections_completed: if completed && sections_total > 0 {
            sections_total
        } else {
            finished
        },
        right_first_try: count(Outcome::FirstTry),
        right_after_hint: count(Outcome::AfterHint),
        right_after_retries: count(Outcome::AfterRetries),
        revealed: count(Outcome::Revealed),
        skipped: count(Outcome::Skipped),
        completed,
        last_studied,
        threads: u32::try_from(threads.len()).unwrap_or(u32::MAX),
    })
}

/// The lesson to suggest after `finished`, from the book's `analyses`: the first lesson after
/// it in reading order that links to it (it builds on the finished one), else the next lesson
/// in reading order; `None` when the book is empty, does not hold `finished`, or it is last.
pub fn next_lesson(finished: &LessonPath, analyses: Vec<LessonAnalysis>) -> Option<NextLesson> {
    let book = super::book::assemble(analyses.clone());
    let order: Vec<&LessonPath> = book
        .parts
        .iter()
        .flat_map(|p| &p.chapters)
        .flat_map(|c| &c.lessons)
        .map(|l| &l.path)
        .collect();
    let at = order.iter().position(|p| *p == finished)?;
    let links: BTreeMap<&str, BTreeSet<&str>> = analyses
        .iter()
        .map(|a| {
            (
                a.path.as_str(),
                a.links.iter().map(LessonPath::as_str).collect(),
            )
        })
        .collect();
    let after = &order[at + 1..];
    let builds_on = after.iter().find(|p| {
        links
            .get(p.as_str())
            .is_some_and(|l| l.contains(finished.as_str()))
    });
    let pick = builds_on.or_else(|| after.first())?;
    let title = analyses
        .iter()
        .find(|a| &a.path == *pick)
        .map(|a| a.title.clone())
        .unwrap_or_default();
    Some(NextLesson {
        title: if title.trim().is_empty() {
            pick.as_str().to_string()
        } else {
            title
        },
        path: pick.as_str().to_string(),
    })
}

#[cfg(test)]
mod tests;
