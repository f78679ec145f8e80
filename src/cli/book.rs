//! `book sync [--path P]… [--wait]` and `jobs list|show|retry`: start and watch syncs of the
//! book from the command line, straight against the database and the queue (`DATABASE_URL`).
//!
//! When `WORKER_IN_PROCESS` is true (the embedded default) `book sync` also runs a worker in
//! this process, so a fresh clone syncs its sample lessons with no other process running.

mod output;
#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use super::{EXIT_CONFIG, load_config};
use crate::adapters::jobs::{WorkerHandle, start_worker};
use crate::app::sync::SyncService;
use crate::bootstrap::sync::{Standalone, worker_name, worker_settings};
use crate::config::Config;
use crate::domain::lesson::LessonPath;
use crate::domain::sync::{MAX_SYNC_PATHS, RunReport, SyncRunId, SyncScope};
use crate::telemetry;
pub use output::{progress_line, summary};

/// How often `--wait` reads the run.
const POLL: Duration = Duration::from_millis(250);

/// What `book` does.
#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Sync the book (or the lessons named with --path): fetch, check, place and index every
    /// lesson ahead of the students.
    Sync {
        /// A lesson to sync (repeatable); without it the whole book is listed and synced.
        #[arg(long = "path", value_name = "P")]
        paths: Vec<String>,
        /// Wait for the sync to end, showing its progress, then print a summary.
        #[arg(long)]
        wait: bool,
    },
}

/// What `jobs` does.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The newest sync runs.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: its lessons' outcomes, stages and failures.
    Show {
        /// The job id `book sync` printed.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put a run's dead lessons (every try failed) back on the queue.
    Retry {
        /// The job id.
        id: String,
    },
}

/// What the commands work with.
struct Session {
    config: Config,
    sync: Standalone,
}

impl Session {
    async fn open() -> Result<Self, ExitCode> {
        let config = load_config()?;
        // Warnings only unless LOG_LEVEL says otherwise: info lines would tear the progress bar.
        let level = if std::env::var_os("LOG_LEVEL").is_some() {
            config.log_level.as_str()
        } else {
            "warn"
        };
        telemetry::init_stderr(level, config.log_format);
        match Standalone::open(&config).await {
            Ok(sync) => Ok(Self { config, sync }),
            Err(e) => {
                eprintln!("cannot open the database or the job queue: {e:#}");
                Err(ExitCode::FAILURE)
            }
        }
    }

    fn service(&self) -> &Arc<SyncService> {
        &self.sync.parts.service
    }

    async fn close(self, worker: Option<WorkerHandle>) {
        self.sync.close(worker).await;
    }
}

/// Runs a `book` command.
pub async fn run_book(command: BookCommand) -> ExitCode {
    let BookCommand::Sync { paths, wait } = command;
    let scope = match scope(&paths) {
        Ok(scope) => scope,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let session = match Session::open().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let in_process = session.config.jobs.in_process;
    // Only a waiting command runs a worker: one started just to be stopped would take tasks
    // and hold this command up to the grace (or hand them back with a try counted).
    let worker = (in_process && wait).then(|| {
        start_worker(
            &session.sync.parts.queue,
            session.service().clone(),
            worker_settings(&session.config, worker_name("cli")),
        )
    });
    let code = match session.service().start(scope, "cli").await {
        Err(e) => {
            eprintln!("cannot start the sync: {e}");
            ExitCode::FAILURE
        }
        Ok(id) if !wait => {
            println!("{id}");
            if in_process {
                eprintln!(
                    "queued; WORKER_IN_PROCESS is true, so a running `serve` (or `book sync --wait`) takes it"
                );
            }
            ExitCode::SUCCESS
        }
        Ok(id) => {
            eprintln!("job {id}");
            watch(session.service(), &id).await
        }
    };
    session.close(worker).await;
    code
}

fn scope(paths: &[String]) -> Result<SyncScope, String> {
    if paths.is_empty() {
        return Ok(SyncScope::Book);
    }
    if paths.len() > MAX_SYNC_PATHS {
        return Err(format!("at most {MAX_SYNC_PATHS} --path"));
    }
    paths
        .iter()
        .map(|p| LessonPath::parse(p).map_err(|e| format!("--path {p:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(SyncScope::Paths)
}

/// Follows a run until it ends: a progress bar on a terminal, plain lines otherwise; then the
/// summary. Exit code 0 when it completed, 1 when some lesson died.
async fn watch(sync: &SyncService, id: &SyncRunId) -> ExitCode {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} lessons {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last_line = String::new();
    let report: RunReport = loop {
        match sync.report(id).await {
            Ok(Some(report)) => {
                let line = progress_line(&report);
                if let Some(bar) = &bar {
                    bar.set_length(report.lessons.len() as u64);
                    bar.set_position(
                        report
                            .lessons
                            .iter()
                            .filter(|l| l.outcome.is_final())
                            .count() as u64,
                    );
                    bar.set_message(line.clone());
                } else if line != last_line {
                    eprintln!("{line}");
                }
                last_line = line;
                if report.status().is_final() {
                    break report;
                }
            }
            Ok(None) => {
                eprintln!("job {id} is gone");
                return ExitCode::FAILURE;
            }
            Err(e) => eprintln!("reading the job failed (retrying): {e}"),
        }
        tokio::time::sleep(POLL).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let book = sync.book().await.ok();
    print!("{}", summary(&report, book.as_ref()));
    if report.status() == crate::domain::sync::RunStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs a `jobs` command.
pub async fn run_jobs(command: JobsCommand) -> ExitCode {
    let session = match Session::open().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = jobs(session.service(), command).await;
    session.close(None).await;
    code
}

async fn jobs(sync: &SyncService, command: JobsCommand) -> ExitCode {
    let parse = |id: &str| {
        SyncRunId::parse(id).map_err(|e| {
            eprintln!("{e}");
            ExitCode::from(EXIT_CONFIG)
        })
    };
    match command {
        JobsCommand::List { limit, json } => match sync.list(limit).await {
            Ok(reports) if json => {
                let views: Vec<_> = reports.iter().map(output::job_json).collect();
                println!("{}", serde_json::Value::Array(views));
                ExitCode::SUCCESS
            }
            Ok(reports) => {
                print!("{}", output::job_table(&reports));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        JobsCommand::Show { id, json } => {
            let id = match parse(&id) {
                Ok(id) => id,
                Err(code) => return code,
            };
            match sync.report(&id).await {
                Ok(Some(report)) if json => {
                    println!("{}", output::job_json(&report));
                    ExitCode::SUCCESS
                }
                Ok(Some(report)) => {
                    print!("{}", summary(&report, None));
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("no job {id}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        JobsCommand::Retry { id } => {
            let id = match parse(&id) {
                Ok(id) => id,
                Err(code) => return code,
            };
            match sync.retry(&id).await {
                Ok(Some(n)) => {
                    println!("{n} dead task(s) of job {id} put back on the queue");
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("no job {id}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
