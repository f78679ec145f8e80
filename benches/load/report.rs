//! The report: markdown tables (printed, and with `--write-report` written between the
//! `<!-- load:begin -->` and `<!-- load:end -->` markers of docs/benchmarks.md, one
//! sub-section per backend), with date, commit, machine and command, and every figure beside
//! the baseline (scenario e) at the same number of connections.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::Scenario;
use crate::error::HarnessError;
use crate::scenarios::{ScenarioRun, Step};

const BEGIN: &str = "<!-- load:begin -->";
const END: &str = "<!-- load:end -->";

/// Facts about the run that head the report.
pub struct Header {
    /// `cargo bench --bench load -- …` as typed.
    pub command: String,
    /// Short commit of the working tree.
    pub commit: String,
    /// UTC date and time.
    pub date: String,
    /// nproc, CPU model, RAM, kernel.
    pub machine: String,
    /// Backend label (embedded, Postgres + Redis, or the `--url`).
    pub backend: String,
    /// Soft file-descriptor limit of the harness after raising it (children inherit it).
    pub fd_limit: Option<u64>,
    /// Service processes sharing the port (`--service-processes`).
    pub service_processes: usize,
    /// Sockets one open stream costs the service: 2 over HTTP/1.1 to the model (client and
    /// model), about 1 when model streams share HTTP/2 connections.
    pub sockets_per_stream: f64,
    /// `MODEL_HTTP_VERSION` of the started service.
    pub model_http_version: String,
}

/// nproc, CPU model, RAM and kernel of this machine.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let ram_kb: f64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM, Linux {}",
        ram_kb / 1024.0 / 1024.0,
        read("/proc/sys/kernel/osrelease").trim()
    )
}

/// `git rev-parse --short HEAD` of the repository, or `unknown`.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
}

/// Requests (or turns) per second of a step.
pub fn rate(step: &Step) -> f64 {
    step.result.completed as f64 / (step.result.window_ms.max(1) as f64 / 1000.0)
}

/// Service RSS added per held stream (peak during the step minus RSS before it), KB.
pub fn rss_per_stream_kb(step: &Step) -> Option<f64> {
    let grown = step.rss_peak_kb?.saturating_sub(step.rss_before_kb?);
    (step.result.held > 0).then(|| grown as f64 / step.result.held as f64)
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// kB as MiB with one decimal, `–` when unknown.
pub fn mib(kb: Option<u64>) -> String {
    kb.map_or("–".into(), |kb| format!("{:.1}", kb as f64 / 1024.0))
}

fn errors(step: &Step) -> String {
    let total = step.result.error_count();
    if total == 0 {
        return "0".into();
    }
    let kinds: Vec<String> = step
        .result
        .errors
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    format!("{total} ({})", kinds.join(", "))
}

fn cpu(step: &Step) -> (String, String) {
    match step.cpu_secs {
        Some(s) if step.result.completed > 0 => (
            format!("{s:.1}"),
            format!("{:.0}", s * 1e6 / step.result.completed as f64),
        ),
        Some(s) => (format!("{s:.1}"), "–".into()),
        None => ("–".into(), "–".into()),
    }
}

fn of_baseline(value: f64, base: Option<f64>, percent: bool) -> String {
    match base {
        Some(b) if b > 0.0 && percent && value / b < 0.1 => {
            format!("{:.2}%", value / b * 100.0)
        }
        Some(b) if b > 0.0 && percent => format!("{:.0}%", value / b * 100.0),
        Some(b) if b > 0.0 => format!("{:.1}×", value / b),
        _ => "–".into(),
    }
}

fn request_table(out: &mut String, run: &ScenarioRun, baseline: Option<&ScenarioRun>) {
    let base = |load: usize| baseline.and_then(|b| b.steps.iter().find(|s| s.load == load));
    let unit = if run.scenario == Scenario::C {
        "turns/s"
    } else {
        "req/s"
    };
    if run.scenario == Scenario::C {
        let _ = writeln!(
            out,
            "| streams | turns/s | % of e req/s | TTFE p50 ms | TTFE p95 | TTFE p99 | turn p50 ms | turn p95 | turn p99 | turn max | turn p99 × e p99 | errors | peak RSS MiB | CPU s | CPU µs/turn |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
    } else {
        let _ = writeln!(
            out,
            "| connections | {unit} | % of e | p50 ms | p95 ms | p99 ms | max ms | p99 × e | errors | peak RSS MiB | CPU s | CPU µs/req |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    }
    for step in &run.steps {
        let b = base(step.load);
        let r = &step.result;
        let (cpu_s, cpu_per) = cpu(step);
        let pct = of_baseline(rate(step), b.map(rate), true);
        let p99x = of_baseline(
            r.latency.ms(0.99),
            b.map(|b| b.result.latency.ms(0.99)),
            false,
        );
        if run.scenario == Scenario::C {
            let _ = writeln!(
                out,
                "| {} | {} | {pct} | {} | {} | {} | {} | {} | {} | {} | {p99x} | {} | {} | {cpu_s} | {cpu_per} |",
                step.load,
                thousands(rate(step)),
                ms(r.ttfe.ms(0.5)),
                ms(r.ttfe.ms(0.95)),
                ms(r.ttfe.ms(0.99)),
                ms(r.latency.ms(0.5)),
                ms(r.latency.ms(0.95)),
                ms(r.latency.ms(0.99)),
                ms(r.latency.max_ms()),
                errors(step),
                mib(step.rss_peak_kb),
            );
        } else {
            let _ = writeln!(
                out,
                "| {} | {} | {pct} | {} | {} | {} | {} | {p99x} | {} | {} | {cpu_s} | {cpu_per} |",
                step.load,
                thousands(rate(step)),
                ms(r.latency.ms(0.5)),
                ms(r.latency.ms(0.95)),
                ms(r.latency.ms(0.99)),
                ms(r.latency.max_ms()),
                errors(step),
                mib(step.rss_peak_kb),
            );
        }
    }
}

fn streams_table(out: &mut String, run: &ScenarioRun, sockets_per_stream: f64) {
    let _ = writeln!(
        out,
        "| streams | opened | held to the end | errors | service fds (peak) / limit | % of fd capacity held | open p50 ms | open p99 ms | ramp s | RSS before MiB | peak RSS MiB | RSS per stream KB | CPU s | events received |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for step in &run.steps {
        let r = &step.result;
        // What the limit allows: limit ÷ the sockets one stream holds in the service.
        let capacity = step.fd_limit.map_or("–".into(), |l| {
            format!(
                "{:.0}%",
                r.held as f64 * sockets_per_stream / l as f64 * 100.0
            )
        });
        let fds = format!(
            "{} / {}",
            step.peak_fds.map_or("–".into(), |n| thousands(n as f64)),
            step.fd_limit.map_or("–".into(), |n| thousands(n as f64))
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {fds} | {capacity} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
            step.load,
            r.opened,
            r.held,
            errors(step),
            ms(r.ttfe.ms(0.5)),
            ms(r.ttfe.ms(0.99)),
            r.ramp_ms as f64 / 1000.0,
            mib(step.rss_before_kb),
            mib(step.rss_peak_kb),
            rss_per_stream_kb(step).map_or("–".into(), |v| format!("{v:.1}")),
            step.cpu_secs.map_or("–".into(), |s| format!("{s:.1}")),
            thousands(r.events as f64),
        );
    }
}

/// The sub-section's heading (`title: backend`) and its date, commit, machine and command.
pub fn heading(out: &mut String, title: &str, header: &Header) {
    let _ = writeln!(out, "### {title}: {}\n", header.backend);
    let _ = writeln!(
        out,
        "- Date: {} · commit: `{}` · bench profile (release, `lto = \"thin\"`)",
        header.date, header.commit
    );
    let _ = writeln!(out, "- Machine: {}", header.machine);
    let _ = writeln!(out, "- Command: `{}`", header.command);
}

/// The markdown of one run (one backend).
pub fn render(
    header: &Header,
    runs: &[ScenarioRun],
    charts: &[PathBuf],
    chart_base: &Path,
) -> String {
    let mut out = String::new();
    heading(&mut out, "Load harness", header);
    let _ = writeln!(
        out,
        "- Generator: the bench's own (hyper HTTP/1.1 keep-alive connections, no `wrk`), on the same cores as the service; figures are for the measured window after the warm-up. \"% of e\" and \"× e\" compare with the bare poem baseline (e) at the same number of connections in this run."
    );
    let _ = writeln!(
        out,
        "- Model connections: `MODEL_HTTP_VERSION={}` to the fake model (one open stream costs the service {:.2} sockets)",
        header.model_http_version, header.sockets_per_stream
    );
    if header.service_processes > 1 {
        let _ = writeln!(
            out,
            "- Service: {} processes sharing one port through `SO_REUSEPORT` (`REUSE_PORT=true`), one database and Redis; RSS, CPU and file descriptors (used and limit) are sums over the processes, peak RSS the sum of each one's peak",
            header.service_processes
        );
    }
    if let Some(limit) = header.fd_limit {
        let each = if header.service_processes > 1 {
            " (each)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "- File-descriptor limit of the service process{each}: {limit}"
        );
    }
    let baseline = runs.iter().find(|r| r.scenario == Scenario::E);
    for run in runs {
        let _ = writeln!(out, "\n#### {}\n", run.scenario.title());
        for note in &run.notes {
            let _ = writeln!(out, "- {note}");
        }
        if let Some(ms) = run.ready_ms {
            let _ = writeln!(
                out,
                "- service start to ready (fresh database, migrations applied): {ms} ms"
            );
        }
        out.push('\n');
        match run.scenario {
            Scenario::D => streams_table(&mut out, run, header.sockets_per_stream),
            _ => request_table(&mut out, run, baseline),
        }
        let letter = run.scenario.letter();
        if let Some(chart) = charts.iter().find(|c| {
            c.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("load-{letter}-")))
        }) {
            let rel = chart.strip_prefix(chart_base).unwrap_or(chart);
            let _ = writeln!(out, "\n![scenario {letter}]({})", rel.display());
        }
    }
    out
}

/// Replaces the `key` sub-section inside the load section of `file` (creating either when
/// missing).
///
/// # Errors
/// When the file cannot be read or written.
pub fn write_section(file: &Path, key: &str, body: &str) -> Result<(), HarnessError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| HarnessError::Report(format!("read {}: {e}", file.display())))?;
    let (head, section, tail) = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => (
            &text[..b],
            &text[b + BEGIN.len()..e],
            &text[e + END.len()..],
        ),
        _ => (text.as_str(), "\n", "\n"),
    };
    // A section without sub-sections holds only placeholder text: start it afresh.
    let section = if section.contains("<!-- load:") {
        section
    } else {
        "\n"
    };
    let sub_begin = format!("<!-- load:{key}:begin -->");
    let sub_end = format!("<!-- load:{key}:end -->");
    let block = format!("{sub_begin}\n{}\n{sub_end}", body.trim_end());
    let section = match (section.find(&sub_begin), section.find(&sub_end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{block}{}", &section[..b], &section[e + sub_end.len()..])
        }
        _ => format!("{}\n\n{block}\n", section.trim_end()),
    };
    let updated = format!("{head}{BEGIN}{section}{END}{tail}");
    std::fs::write(file, updated)
        .map_err(|e| HarnessError::Report(format!("write {}: {e}", file.display())))?;
    Ok(())
}
