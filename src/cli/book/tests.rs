use chrono::{TimeZone, Utc};

use super::output::{job_json, job_table, progress_line, summary};
use super::scope;
use crate::domain::book::{Book, Problem, ProblemKind};
use crate::domain::lesson::LessonPath;
use crate::domain::sync::{LessonOutcome, RunLesson, RunReport, SyncRun, SyncRunId, SyncScope};

fn path(p: &str) -> LessonPath {
    LessonPath::parse(p).unwrap()
}

fn report() -> RunReport {
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
    let lesson = |p: &str, outcome, error: Option<&str>| RunLesson {
        path: path(p),
        outcome,
        attempts: if error.is_some() { 3 } else { 1 },
        error: error.map(str::to_string),
        task_id: Some("t".into()),
        updated_at: at,
    };
    RunReport {
        run: SyncRun {
            id: SyncRunId::parse("0190c5a4-d2b1-7c3e-8f1a-2b3c4d5e6f70").unwrap(),
            scope: SyncScope::Book,
            requested_by: "cli".into(),
            created_at: at,
            listed_at: Some(at),
            error: None,
            task_id: None,
        },
        lessons: vec![
            lesson("a/one", LessonOutcome::Synced, None),
            lesson("a/two", LessonOutcome::Unchanged, None),
            lesson(
                "b/three",
                LessonOutcome::Dead,
                Some("ingestion: lesson unavailable"),
            ),
        ],
    }
}

#[test]
fn a_progress_line_names_the_status_and_the_outcomes_that_are_not_zero() {
    assert_eq!(
        progress_line(&report()),
        "failed: 3/3 lessons, synced 1, unchanged 1, dead 1"
    );
}

#[test]
fn the_summary_counts_outcomes_lists_failures_with_the_retry_command_and_quality_problems() {
    let book = Book {
        parts: vec![],
        report: vec![
            (
                path("a/one"),
                vec![Problem::new(ProblemKind::BrokenLink, "x/y")],
            ),
            (
                path("z/not-in-run"),
                vec![Problem::new(ProblemKind::MissingTitle, "")],
            ),
        ],
    };
    let text = summary(&report(), Some(&book));
    assert!(
        text.starts_with("job 0190c5a4-d2b1-7c3e-8f1a-2b3c4d5e6f70 failed (3 lessons"),
        "{text}"
    );
    assert!(text.contains("OUTCOME"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("synced") && l.trim_end().ends_with('1')),
        "{text}"
    );
    assert!(
        text.contains("b/three") && text.contains("ingestion: lesson unavailable"),
        "{text}"
    );
    assert!(
        text.contains("jobs retry 0190c5a4-d2b1-7c3e-8f1a-2b3c4d5e6f70"),
        "{text}"
    );
    assert!(
        text.contains("Quality problems (1)") && text.contains("broken_link"),
        "{text}"
    );
    assert!(
        !text.contains("z/not-in-run"),
        "only the run's lessons: {text}"
    );
}

#[test]
fn the_job_table_and_json_carry_id_status_and_counts() {
    let table = job_table(&[report()]);
    assert!(table.contains("0190c5a4-d2b1-7c3e-8f1a-2b3c4d5e6f70") && table.contains("failed"));
    assert_eq!(job_table(&[]), "no sync jobs yet\n");
    let json = job_json(&report());
    assert_eq!(json["status"], "failed");
    assert_eq!(json["counts"]["dead"], 1);
    assert_eq!(json["lessons"].as_array().unwrap().len(), 3);
}

#[test]
fn paths_on_the_command_line_are_checked() {
    assert_eq!(scope(&[]), Ok(SyncScope::Book));
    assert_eq!(
        scope(&["a/b".to_string()]),
        Ok(SyncScope::Paths(vec![path("a/b")]))
    );
    assert!(scope(&["../etc".to_string()]).is_err());
}
