//! Load harness of issue 7: `cargo bench --bench load -- [options]` (`-- --help` lists them).
//!
//! Starts the release service binary as a child (embedded defaults, `--backend postgres`, or
//! `--url` for a running one), a fake OpenAI-compatible model, and its own load generator
//! (hyper, keep-alive, optionally split over `--worker` processes), then runs the scenarios of
//! the issue: a. cached lessons, b. `threads.list`, c. tutoring turns, d. open streams, e. a
//! bare poem baseline. Prints markdown tables; `--write-report` also updates
//! docs/benchmarks.md and writes PNG charts to docs/bench/. Traffic stays on loopback.

mod auth;
mod chart;
mod cli;
mod error;
mod fake_model;
mod generator;
mod hello;
mod report;
mod scenarios;
mod service;
mod soak;
mod worker;

use std::process::ExitCode;

use clap::Parser;

use cli::{Backend, Cli};
use error::HarnessError;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench target; it means nothing here.
    let raw: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let cli = match Cli::try_parse_from(&raw) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    study_mode_api::bootstrap::install_tls_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = if cli.worker {
        runtime.block_on(worker::serve_stdin())
    } else if cli.hello_server {
        runtime.block_on(hello::serve())
    } else {
        runtime.block_on(run(&cli, &raw))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli, raw: &[String]) -> Result<(), HarnessError> {
    let problems = cli.problems();
    if !problems.is_empty() {
        return Err(HarnessError::Options(problems.join("; ")));
    }
    let scenarios = cli::parse_scenarios(&cli.scenario).map_err(HarnessError::Options)?;
    // Raised before any child starts, so the service and the workers inherit it.
    let fd_limit = match service::raise_fd_limit() {
        Ok(limit) => {
            eprintln!("load: file-descriptor limit raised to {limit} (children inherit it)");
            Some(limit)
        }
        Err(e) => {
            eprintln!("load: warning: cannot raise the file-descriptor limit: {e}");
            None
        }
    };
    let runner = scenarios::Runner::new(cli)?;
    let (soak, runs) = if cli.soak {
        eprintln!("load: soak of {} s", cli.soak_secs);
        (Some(runner.soak().await?), Vec::new())
    } else {
        (None, runner.run(&scenarios).await?)
    };
    let (mut key, mut backend) = match (&cli.url, cli.backend) {
        (Some(url), _) => ("url".to_string(), format!("target {url}")),
        (None, Backend::Embedded) => ("embedded".to_string(), cli.backend.to_string()),
        (None, Backend::Postgres) => ("postgres".to_string(), cli.backend.to_string()),
    };
    // A deployment of several processes gets its own report sub-section and charts.
    let processes = if cli.url.is_some() {
        1
    } else {
        cli.service_processes
    };
    if soak.is_some() {
        key = format!("soak-{key}");
    }
    if processes > 1 {
        key = format!("{key}-x{processes}");
        backend = format!("{backend}, {processes} service processes on one port (SO_REUSEPORT)");
    }
    let header = report::Header {
        command: Cli::command_line(raw),
        commit: report::commit(),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: report::machine(),
        backend,
        fd_limit: if cli.url.is_some() { None } else { fd_limit },
        service_processes: processes,
        sockets_per_stream: cli.sockets_per_stream(),
        model_http_version: cli.model_http_version().to_string(),
    };
    // Relative paths are taken from the repository root, wherever the bench was started.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let report_file = root.join(&cli.report_file);
    let chart_dir = root.join(&cli.chart_dir);
    let report_dir = report_file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let markdown = if let Some(soak) = &soak {
        let chart = cli
            .write_report
            .then(|| chart_dir.join(format!("{key}.png")));
        let drawn = chart.filter(|path| {
            let _ = std::fs::create_dir_all(&chart_dir);
            soak::draw(path, soak, &key)
                .map_err(|e| eprintln!("load: warning: soak chart: {e}"))
                .is_ok()
        });
        soak::render(&header, soak, drawn.as_deref(), &report_dir)
    } else {
        let charts = if cli.write_report {
            chart::write_all(&runs, &chart_dir, &key)
        } else {
            Vec::new()
        };
        report::render(&header, &runs, &charts, &report_dir)
    };
    println!("{markdown}");
    if cli.write_report {
        report::write_section(&report_file, &key, &markdown)?;
        eprintln!(
            "load: wrote {} (charts in {})",
            report_file.display(),
            chart_dir.display()
        );
    }
    Ok(())
}
