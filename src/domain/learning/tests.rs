use chrono::TimeZone;

use super::*;
use crate::domain::book::analyze;
use crate::domain::teach::SectionOutcome;
use crate::domain::thread::FeedbackKind;

fn path(p: &str) -> LessonPath {
    LessonPath::parse(p).expect("path")
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 10, minute, 0).unwrap()
}

fn done(section: u32, outcome: Outcome, hints: u8) -> SectionOutcome {
    SectionOutcome {
        section,
        outcome,
        hints,
        wrong: 0,
    }
}

fn record(
    user: &str,
    thread: &str,
    lesson: &str,
    outcomes: Vec<SectionOutcome>,
    completed: bool,
    minute: u32,
) -> StudyRecord {
    StudyRecord {
        user_id: user.into(),
        thread_id: thread.into(),
        lesson_path: path(lesson),
        state: StudyState {
            outcomes,
            completed,
            section_count: 4,
            turns: 5,
            ..StudyState::default()
        },
        updated_at: at(minute),
    }
}

#[test]
fn two_threads_of_one_lesson_make_one_record_with_the_best_of_each_section() {
    let records = vec![
        record(
            "u",
            "t1",
            "01-a/01-one",
            vec![done(0, Outcome::Skipped, 0), done(1, Outcome::Revealed, 0)],
            false,
            1,
        ),
        record(
            "u",
            "t2",
            "01-a/01-one",
            vec![
                done(0, Outcome::FirstTry, 0),
                done(1, Outcome::AfterHint, 2),
                done(2, Outcome::Skipped, 0),
            ],
            false,
            5,
        ),
        record("u", "t3", "01-a/02-two", vec![], false, 3),
    ];
    let lessons = progress(&records);
    assert_eq!(lessons.len(), 2);
    let one = &lessons[0];
    assert_eq!(one.lesson_path.as_str(), "01-a/01-one", "most recent first");
    assert_eq!(one.threads, 2);
    assert_eq!((one.sections_completed, one.sections_total), (3, 4));
    assert_eq!(
        (
            one.right_first_try,
            one.right_after_hint,
            one.revealed,
            one.skipped
        ),
        (1, 1, 0, 1)
    );
    assert!(!one.completed);
    assert_eq!(one.last_studied, at(5));
    assert_eq!(lessons[1].sections_completed, 0);
}

#[test]
fn a_lesson_completed_in_any_thread_is_completed() {
    let records = vec![
        record("u", "t1", "01-a/01-one", vec![], true, 1),
        record("u", "t2", "01-a/01-one", vec![], false, 2),
    ];
    let lessons = progress(&records);
    assert!(lessons[0].completed);
    assert_eq!(lessons[0].sections_completed, 4);
}

#[test]
fn progress_lists_at_most_the_most_recent_lessons() {
    let records: Vec<StudyRecord> = (0..MAX_PROGRESS_LESSONS + 3)
        .map(|n| {
            let mut r = record("u", &format!("t{n}"), &format!("a/l{n}"), vec![], false, 0);
            r.updated_at = at(0) + chrono::Duration::seconds(i64::try_from(n).unwrap());
            r
        })
        .collect();
    let lessons = progress(&records);
    assert_eq!(lessons.len(), MAX_PROGRESS_LESSONS);
    assert_eq!(
        lessons[0].lesson_path.as_str(),
        format!("a/l{}", MAX_PROGRESS_LESSONS + 2)
    );
}

#[test]
fn analytics_counts_distinct_students_per_section_with_their_ratings() {
    let records = vec![
        record(
            "ann",
            "t1",
            "a/one",
            vec![done(0, Outcome::FirstTry, 0)],
            false,
            1,
        ),
        // Ann's second thread of the lesson does not count her twice.
        record(
            "ann",
            "t2",
            "a/one",
            vec![done(0, Outcome::Skipped, 0)],
            false,
            2,
        ),
        record(
            "bob",
            "t3",
            "a/one",
            vec![done(0, Outcome::AfterHint, 1), done(1, Outcome::Skipped, 0)],
            false,
            3,
        ),
        record(
            "cid",
            "t4",
            "a/one",
            vec![done(0, Outcome::Revealed, 2)],
            false,
            4,
        ),
    ];
    let feedback = vec![
        SectionFeedback {
            lesson_path: path("a/one"),
            section: 0,
            kind: FeedbackKind::Negative,
            count: 2,
        },
        SectionFeedback {
            lesson_path: path("a/one"),
            section: 3,
            kind: FeedbackKind::Positive,
            count: 1,
        },
    ];
    let report = analytics(&records, &feedback, false);
    assert_eq!(report.students, 3);
    let s0 = &report.sections[0];
    assert_eq!(
        (
            s0.section,
            s0.students,
            s0.answered,
            s0.first_try,
            s0.after_hint,
            s0.revealed
        ),
        (0, 3, 3, 1, 1, 1)
    );
    assert_eq!(s0.hints, 3);
    assert_eq!(s0.negative, 2);
    assert!((s0.first_try_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    let s1 = &report.sections[1];
    assert_eq!(
        (s1.section, s1.students, s1.answered, s1.skipped),
        (1, 1, 0, 1)
    );
    assert_eq!(s1.first_try_rate, None);
    let s3 = &report.sections[2];
    assert_eq!((s3.section, s3.students, s3.positive), (3, 0, 1));
}

fn lesson(p: &str, title: &str, body: &str) -> LessonAnalysis {
    analyze(&path(p), &format!("# {title}\n\n{body}\n"))
}

#[test]
fn the_next_lesson_is_one_that_builds_on_the_finished_one_else_the_next_in_order() {
    let book = vec![
        lesson("01-p/01-c/01-start", "Start", "Text."),
        lesson("01-p/01-c/02-middle", "Middle", "Text."),
        lesson(
            "01-p/01-c/03-deep",
            "Deep",
            "Read [the start](./01-start.md) first.",
        ),
        lesson("01-p/01-c/04-end", "End", "Text."),
    ];
    let next = next_lesson(&path("01-p/01-c/01-start"), book.clone()).expect("next");
    assert_eq!(next.path, "01-p/01-c/03-deep");
    assert_eq!(next.title, "Deep");
    let next = next_lesson(&path("01-p/01-c/02-middle"), book.clone()).expect("next");
    assert_eq!(next.path, "01-p/01-c/03-deep", "next in order");
    assert_eq!(
        next_lesson(&path("01-p/01-c/03-deep"), book.clone())
            .unwrap()
            .path,
        "01-p/01-c/04-end"
    );
    assert_eq!(next_lesson(&path("01-p/01-c/04-end"), book.clone()), None);
    assert_eq!(next_lesson(&path("01-p/01-c/99-gone"), book), None);
    assert_eq!(next_lesson(&path("01-p/01-c/01-start"), Vec::new()), None);
}
