//! `report questions [--path P] [--json]`: the question analytics of `GET
//! /admin/analytics/questions` as a table, straight from the database (`DATABASE_URL`).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use crate::adapters::sql::thread_store::SqlThreadStore;
use crate::app::learning::LearningService;
use crate::domain::learning::QuestionAnalytics;
use crate::domain::lesson::LessonPath;
use crate::http::learning::QuestionAnalyticsOut;

/// Longest section title shown in the table, in characters.
const TITLE_CHARS: usize = 40;

/// What `report` prints.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per lesson and section: students, first-try rate, hints, skips and the ratings of the
    /// tutor's messages, so authors can find the confusing sections.
    Questions {
        /// Only this lesson; every lesson studied when absent.
        #[arg(long, value_name = "P")]
        path: Option<String>,
        /// Print JSON (as the HTTP endpoint answers) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `report` command.
pub async fn run(command: ReportCommand) -> ExitCode {
    let ReportCommand::Questions { path, json } = command;
    let path = match path.as_deref().map(LessonPath::parse).transpose() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("--path: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match super::store_database().await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let service = LearningService::new(Arc::new(SqlThreadStore::new(db.clone())));
    let result = service.question_analytics(path.as_ref()).await;
    db.close().await;
    match result {
        Ok(report) if json => {
            let out = QuestionAnalyticsOut::from(&report);
            let value = poem_openapi::types::ToJSON::to_json(&out).unwrap_or_default();
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", table(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot read the analytics: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The report as a text table, one row per section.
pub fn table(report: &QuestionAnalytics) -> String {
    let mut out = String::new();
    if report.sections.is_empty() {
        out.push_str("no teach-mode answers recorded yet\n");
        return out;
    }
    let header = [
        "LESSON",
        "SECTION",
        "TITLE",
        "STUDENTS",
        "ANSWERED",
        "FIRST-TRY",
        "HINTED",
        "RETRIED",
        "REVEALED",
        "SKIPPED",
        "HINTS",
        "UP",
        "DOWN",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_string()).collect()];
    for s in &report.sections {
        let title: String = s
            .title
            .as_deref()
            .unwrap_or("-")
            .chars()
            .filter(|c| !c.is_control())
            .take(TITLE_CHARS)
            .collect();
        let rate = match s.first_try_rate {
            Some(rate) => format!("{} ({:.0}%)", s.first_try, rate * 100.0),
            None => s.first_try.to_string(),
        };
        rows.push(vec![
            s.lesson_path.as_str().to_string(),
            s.section.to_string(),
            title,
            s.students.to_string(),
            s.answered.to_string(),
            rate,
            s.after_hint.to_string(),
            s.after_retries.to_string(),
            s.revealed.to_string(),
            s.skipped.to_string(),
            s.hints.to_string(),
            s.positive.to_string(),
            s.negative.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "\n{} student(s){}",
        report.students,
        if report.truncated {
            "; only the most recent study states were counted"
        } else {
            ""
        }
    );
    out
}
