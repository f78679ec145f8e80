//! What `book sync --wait` and `jobs` print.

use std::fmt::Write;

use crate::cli::keys::output::aligned;
use crate::domain::book::Book;
use crate::domain::sync::{LessonOutcome, RunReport};

/// One line of progress: status and the lessons per outcome that are not zero.
pub fn progress_line(report: &RunReport) -> String {
    let counts = report.counts();
    let done = report
        .lessons
        .iter()
        .filter(|l| l.outcome.is_final())
        .count();
    let mut line = format!(
        "{}: {done}/{} lessons",
        report.status().as_str(),
        report.lessons.len()
    );
    for (outcome, n) in counts.iter().filter(|(_, n)| **n > 0) {
        let _ = write!(line, ", {} {n}", outcome.as_str());
    }
    line
}

/// The summary after a run: its outcome counts, its failures, and the quality problems of its
/// lessons (from `book`, when given).
pub fn summary(report: &RunReport, book: Option<&Book>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "job {} {} ({} lessons, requested by {})",
        report.run.id,
        report.status().as_str(),
        report.lessons.len(),
        report.run.requested_by
    );
    if let Some(error) = &report.run.error {
        let _ = writeln!(out, "listing failed: {error}");
    }
    let rows: Vec<[String; 2]> = report
        .counts()
        .into_iter()
        .map(|(outcome, n)| [outcome.as_str().to_string(), n.to_string()])
        .collect();
    out.push('\n');
    out.push_str(&aligned(["OUTCOME", "LESSONS"], &rows));
    let failures: Vec<[String; 4]> = report
        .failures()
        .map(|l| {
            [
                l.path.as_str().to_string(),
                l.outcome.as_str().to_string(),
                l.attempts.to_string(),
                l.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !failures.is_empty() {
        out.push_str("\nFailures\n");
        out.push_str(&aligned(["LESSON", "OUTCOME", "TRIES", "ERROR"], &failures));
        if report
            .lessons
            .iter()
            .any(|l| l.outcome == LessonOutcome::Dead)
        {
            let _ = writeln!(
                out,
                "retry with: study-mode-api jobs retry {}",
                report.run.id
            );
        }
    }
    if let Some(book) = book {
        let in_run: std::collections::BTreeSet<&str> =
            report.lessons.iter().map(|l| l.path.as_str()).collect();
        let problems: Vec<[String; 3]> = book
            .report
            .iter()
            .filter(|(path, _)| in_run.contains(path.as_str()))
            .flat_map(|(path, problems)| {
                problems.iter().map(move |p| {
                    [
                        path.as_str().to_string(),
                        p.kind.as_str().to_string(),
                        p.detail.clone(),
                    ]
                })
            })
            .collect();
        if problems.is_empty() {
            out.push_str("\nNo quality problems in these lessons.\n");
        } else {
            let _ = writeln!(out, "\nQuality problems ({})", problems.len());
            out.push_str(&aligned(["LESSON", "PROBLEM", "DETAIL"], &problems));
        }
    }
    out
}

/// `jobs list` as a table.
pub fn job_table(reports: &[RunReport]) -> String {
    if reports.is_empty() {
        return "no sync jobs yet\n".to_string();
    }
    let rows: Vec<[String; 5]> = reports
        .iter()
        .map(|r| {
            [
                r.run.id.to_string(),
                r.status().as_str().to_string(),
                r.lessons.len().to_string(),
                r.run.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.run.requested_by.clone(),
            ]
        })
        .collect();
    aligned(["ID", "STATUS", "LESSONS", "CREATED (UTC)", "BY"], &rows)
}

/// A run as JSON (`jobs list --json`, `jobs show --json`).
pub fn job_json(report: &RunReport) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = report
        .counts()
        .into_iter()
        .map(|(o, n)| (o.as_str().to_string(), n.into()))
        .collect();
    serde_json::json!({
        "id": report.run.id,
        "status": report.status().as_str(),
        "scope": report.run.scope,
        "requested_by": report.run.requested_by,
        "created_at": report.run.created_at,
        "finished_at": report.finished_at(),
        "error": report.run.error,
        "counts": counts,
        "lessons": report.lessons,
    })
}
