//! Command line: `serve` (default), `migrate`, `worker`, `book`, `jobs`, `keys`, `users`, `db`,
//! `openapi`, `check-config`, `config-docs`, `healthcheck`.

mod book;
mod db;
mod keys;
mod report;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::adapters::sql::{Database, migrations};
use crate::bootstrap::{Application, shutdown_signal};
use crate::config::Config;
use crate::{http, telemetry};

pub use self::book::{BookCommand, JobsCommand};
pub use self::db::DbCommand;
pub use self::keys::{KeysCommand, TierArg};
pub use self::users::{RoleArg, UsersCommand};

/// Exit status for an invalid configuration.
const EXIT_CONFIG: u8 = 2;

/// Study Mode API: the backend of the Socratic tutor.
#[derive(Debug, Parser)]
#[command(name = "study-mode-api", version, about, long_about = None)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run book sync workers only (no HTTP API); `/health` and `/health/ready` on
    /// `WORKER_PORT`.
    Worker,
    /// Sync the book: fetch, check, place and index its lessons.
    Book {
        #[command(subcommand)]
        command: BookCommand,
    },
    /// Book sync jobs: list, show, retry.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Manage API keys (`create`, `list`, `revoke`) in the database of `DATABASE_URL`.
    ///
    /// Each subcommand applies pending migrations first. A created key is printed once; only a
    /// hash of its secret is stored.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the users of the own sign-in (`list`, `set-tier`, `set-role`, `disable`,
    /// `enable`) in the database of `DATABASE_URL`.
    ///
    /// Each subcommand applies pending migrations first. `disable` also revokes every refresh
    /// token of the user.
    Users {
        /// What to do with users.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Database maintenance: `db copy --from <url> --to <url>` moves every table into another
    /// database (SQLite to Postgres) and verifies it (docs/migrating-sqlite-to-postgres.md).
    Db {
        /// What to do.
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Reports for authors: `report questions [--path P] [--json]` (question analytics).
    Report {
        /// Which report.
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Print the OpenAPI document generated from the code.
    Openapi {
        /// Output format.
        #[arg(long, value_enum, default_value_t = SpecFormat::Yaml)]
        format: SpecFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Validate the environment and print the effective configuration (secrets redacted).
    CheckConfig,
    /// Print `docs/configuration.md` (every variable, its default per profile, its meaning),
    /// rendered from the configuration code and the comments of `.env.example`.
    ConfigDocs {
        /// The `.env.example` whose comments give each variable's meaning.
        #[arg(long, default_value = ".env.example")]
        env_example: PathBuf,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// GET /health of a running instance; exit 0 when it answers 200 (container health check).
    Healthcheck {
        /// URL to probe; default http://127.0.0.1:$PORT/health.
        #[arg(long)]
        url: Option<String>,
    },
}

/// Formats of the OpenAPI document.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpecFormat {
    /// YAML, as committed in `openapi/openapi.yaml`.
    Yaml,
    /// JSON.
    Json,
}

/// Parses the arguments and runs the command.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::Worker => worker().await,
        Command::Book { command } => book::run_book(command).await,
        Command::Jobs { command } => book::run_jobs(command).await,
        Command::Keys { command } => keys::run(command).await,
        Command::Users { command } => users::run(command).await,
        Command::Db { command } => db::run(command).await,
        Command::Report { command } => report::run(command).await,
        Command::Openapi { format, output } => openapi(format, output),
        Command::CheckConfig => check_config(),
        Command::ConfigDocs {
            env_example,
            output,
        } => config_docs(&env_example, output),
        Command::Healthcheck { url } => healthcheck(url).await,
    }
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprint!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// What the store commands (`keys`, `users`) start with: the configuration, logs on standard
/// error, and the migrated database. `Err` is the exit status, the reason already printed.
async fn store_database() -> Result<Database, ExitCode> {
    let config = load_config()?;
    telemetry::init_stderr(&config.log_level, config.log_format);
    let opened: anyhow::Result<Database> = async {
        let db = Database::connect(&config.database).await?;
        migrations::run(&db).await?;
        Ok(db)
    }
    .await;
    opened.map_err(|e| {
        eprintln!("cannot open the database: {e:#}");
        ExitCode::FAILURE
    })
}

/// The end of a store command: its text on standard output, or its error on standard error
/// with the exit status `code` gives it.
fn outcome<E: std::fmt::Display>(
    result: Result<String, E>,
    code: impl FnOnce(&E) -> ExitCode,
) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            code(&e)
        }
    }
}

async fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let traces = telemetry::init_traced(&config.log_level, config.log_format);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "start-up failed");
            traces.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    let code = match app.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    };
    // The spans of the last turns leave before the process does.
    traces.shutdown().await;
    code
}

async fn worker() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let traces = telemetry::init_traced(&config.log_level, config.log_format);
    let code = match crate::bootstrap::worker::run_worker(config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "worker start-up failed");
            ExitCode::FAILURE
        }
    };
    traces.shutdown().await;
    code
}

async fn migrate() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log_level, config.log_format);
    let result = async {
        let db = Database::connect(&config.database).await?;
        let applied = migrations::run(&db).await?;
        db.close().await;
        anyhow::Ok(applied)
    }
    .await;
    match result {
        Ok(applied) => {
            println!("migrations applied: {applied}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migration failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn openapi(format: SpecFormat, output: Option<PathBuf>) -> ExitCode {
    let spec = match format {
        SpecFormat::Yaml => http::spec_yaml(),
        SpecFormat::Json => http::spec_json(),
    };
    match output {
        None => {
            print!("{spec}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(&path, spec) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
    }
}

fn config_docs(env_example: &std::path::Path, output: Option<PathBuf>) -> ExitCode {
    let rendered = std::fs::read_to_string(env_example)
        .map_err(|e| format!("cannot read {}: {e}", env_example.display()))
        .and_then(|text| crate::config::reference::render_markdown(&text));
    let doc = match rendered {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match output {
        None => {
            print!("{doc}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(&path, doc) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
    }
}

fn check_config() -> ExitCode {
    match Config::from_env() {
        Ok(config) => {
            print!("{config}");
            println!("configuration is valid");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(url: Option<String>) -> ExitCode {
    let url = url.unwrap_or_else(|| {
        let port = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(8000);
        format!("http://127.0.0.1:{port}/health")
    });
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            println!("healthy: {url} answered {}", resp.status());
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!("unhealthy: {url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
