//! `db copy --from <url> --to <url> [--force] [--batch N]`: moves every table from one database
//! to another (typically the embedded SQLite into Postgres) and verifies the copy.
//!
//! Exit status: 0 copied and verified; 1 a database failed (nothing is left half-written
//! within a batch; run again with `--force` to finish); 3 refused (target not empty, bad URL,
//! unknown schema); 4 copied but the verification found a difference.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use secrecy::SecretString;

use crate::adapters::sql::copy::{
    self, CopyError, CopyOptions, CopyProgress, CopyReport, DEFAULT_BATCH, MAX_BATCH,
};
use crate::adapters::sql::{Database, migrations};
use crate::config::{DatabaseConfig, LogFormat};
use crate::telemetry;

/// Exit status when the copy is refused before anything is written.
const EXIT_REFUSED: u8 = 3;
/// Exit status when the copy finished but source and target differ.
const EXIT_MISMATCH: u8 = 4;

/// Database maintenance.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy every table from one database into another (e.g. SQLite into Postgres), then
    /// verify row counts and checksums.
    ///
    /// Both databases are migrated to this version first. A target that already holds rows is
    /// refused unless `--force`: then rows are upserted by primary key, so running the copy
    /// again (after an interruption, or twice) is safe. Stop the service's writes first.
    Copy {
        /// Source database URL (`sqlite://…` or `postgres://…`).
        #[arg(long, value_name = "URL")]
        from: String,
        /// Target database URL (`postgres://…` or `sqlite://…`).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy into a target that already holds rows (rows with the same key are replaced).
        #[arg(long)]
        force: bool,
        /// Rows per batch (1 to 2000).
        #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BATCH)))]
        batch: u32,
    },
}

/// Runs a `db` subcommand.
pub async fn run(command: DbCommand) -> ExitCode {
    match command {
        DbCommand::Copy {
            from,
            to,
            force,
            batch,
        } => run_copy(&from, &to, CopyOptions { batch, force }).await,
    }
}

/// The pool settings of a copy: a couple of connections, patient statements.
fn database_config(url: &str) -> Result<DatabaseConfig, String> {
    let supported = ["sqlite:", "postgres://", "postgresql://"];
    if !supported.iter().any(|p| url.starts_with(p)) {
        return Err("a database URL starts with sqlite:, postgres:// or postgresql://".into());
    }
    Ok(DatabaseConfig {
        url: SecretString::from(url.to_owned()),
        max_connections: 2,
        min_connections: 0,
        acquire_timeout: Duration::from_secs(30),
        statement_timeout: Duration::from_secs(300),
        auto_migrate: true,
    })
}

/// The file of a SQLite URL (`sqlite://path?options`, `sqlite:path`); `None` for other URLs
/// and in-memory databases.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    (!file.is_empty() && file != ":memory:").then_some(file)
}

async fn open(cfg: &DatabaseConfig, side: &str) -> Result<Database, String> {
    let db = Database::connect(cfg)
        .await
        .map_err(|e| format!("cannot open the {side} {}: {e:#}", cfg.redacted_url()))?;
    migrations::run(&db)
        .await
        .map_err(|e| format!("cannot migrate the {side} {}: {e}", cfg.redacted_url()))?;
    Ok(db)
}

async fn run_copy(from: &str, to: &str, options: CopyOptions) -> ExitCode {
    telemetry::init_stderr("warn", LogFormat::Pretty);
    let (source_cfg, target_cfg) = match (database_config(from), database_config(to)) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) => return refused(&format!("--from: {e}")),
        (_, Err(e)) => return refused(&format!("--to: {e}")),
    };
    if from == to {
        return refused("--from and --to name the same database");
    }
    if let Some(file) = sqlite_file(from)
        && !std::path::Path::new(file).exists()
    {
        // Opening it would create an empty database and "copy" nothing.
        return refused(&format!("--from: there is no SQLite database at {file}"));
    }
    let opened = async {
        let source = open(&source_cfg, "source").await?;
        let target = open(&target_cfg, "target").await?;
        Ok::<_, String>((source, target))
    }
    .await;
    let (source, target) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "copying {} → {}",
        source_cfg.redacted_url(),
        target_cfg.redacted_url()
    );
    let progress = Bars::new();
    let result = copy::copy(&source, &target, options, &progress).await;
    progress.finish();
    source.close().await;
    target.close().await;
    match result {
        Ok(report) => {
            print!("{}", render(&report));
            if report.verified() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "verification failed: the tables marked DIFFERENT do not hold the same rows \
                     (was the service still writing to the source, or did the target hold rows of \
                     its own?)"
                );
                ExitCode::from(EXIT_MISMATCH)
            }
        }
        Err(e @ (CopyError::TargetNotEmpty(_) | CopyError::Schema(_))) => refused(&e.to_string()),
        Err(e) => {
            eprintln!("copy failed: {e}");
            eprintln!(
                "every batch written is complete; fix the cause and run the same command with \
                 --force to finish"
            );
            ExitCode::FAILURE
        }
    }
}

fn refused(reason: &str) -> ExitCode {
    eprintln!("db copy refused: {reason}");
    ExitCode::from(EXIT_REFUSED)
}

/// The verification table, then what was not copied.
fn render(report: &CopyReport) -> String {
    let mut out = format!(
        "{:<18} {:>12} {:>12}  {:<32}  result\n",
        "table", "source rows", "target rows", "checksum (source)"
    );
    for check in &report.tables {
        out.push_str(&format!(
            "{:<18} {:>12} {:>12}  {:<32}  {}\n",
            check.table,
            check.source.rows,
            check.target.rows,
            check.source.hex(),
            if check.matches() { "ok" } else { "DIFFERENT" }
        ));
    }
    if let Some(rows) = report.search_rows_rebuilt {
        out.push_str(&format!(
            "search index rebuilt on the target: {rows} sections\n"
        ));
    }
    out.push_str("not copied:\n");
    for (table, why) in report.not_copied {
        out.push_str(&format!("  {table}: {why}\n"));
    }
    if let Some(n) = report.unfinished_jobs.filter(|n| *n > 0) {
        out.push_str(&format!(
            "warning: the source queue holds {n} unfinished book sync tasks, which are not \
             copied; start a new sync on the new deployment\n"
        ));
    }
    let rows: u64 = report.tables.iter().map(|c| c.target.rows).sum();
    if report.verified() {
        out.push_str(&format!(
            "copy verified: {} tables, {rows} rows\n",
            report.tables.len()
        ));
    }
    out
}

/// A progress bar per table on a terminal; a line per table otherwise.
struct Bars {
    terminal: bool,
    multi: indicatif::MultiProgress,
    current: RefCell<Option<(String, indicatif::ProgressBar)>>,
}

impl Bars {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            multi: indicatif::MultiProgress::new(),
            current: RefCell::new(None),
        }
    }

    fn finish(&self) {
        if let Some((_, bar)) = self.current.borrow_mut().take() {
            bar.finish();
        }
    }
}

impl CopyProgress for Bars {
    fn table_started(&self, table: &str, rows: u64) {
        let bar = if self.terminal {
            let bar = self.multi.add(indicatif::ProgressBar::new(rows));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>18} [{elapsed_precise}] {bar:40} {pos}/{len} rows",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(table.to_owned());
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        *self.current.borrow_mut() = Some((table.to_owned(), bar));
    }

    fn rows_copied(&self, rows: u64) {
        if let Some((_, bar)) = &*self.current.borrow() {
            bar.inc(rows);
        }
    }

    fn table_finished(&self) {
        if let Some((table, bar)) = self.current.borrow_mut().take() {
            bar.finish();
            if !self.terminal {
                eprintln!("{table}: {} rows copied", bar.position());
            }
        }
    }

    fn verifying(&self, table: &str) {
        if !self.terminal {
            eprintln!("verifying {table}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn the_file_of_a_sqlite_url_is_its_path_without_options() {
        assert_eq!(
            sqlite_file("sqlite://./data/a.sqlite?mode=rwc"),
            Some("./data/a.sqlite")
        );
        assert_eq!(sqlite_file("sqlite:///tmp/a.db"), Some("/tmp/a.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/x"), None);
    }
}
