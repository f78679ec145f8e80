//! Command line of the load harness: `cargo bench --bench load -- [options]`.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Authentication of the generated requests: RS256 bearer tokens, as real clients send.
pub const DEFAULT_AUTH: AuthMode = AuthMode::Jwt;

/// Load harness of issue 7: starts the service, a fake model and its own load generator, runs
/// scenarios a–e and reports throughput, latency percentiles, errors, RSS and CPU.
#[derive(Debug, Clone, Parser)]
#[command(name = "load", about, long_about = None)]
pub struct Cli {
    /// Scenarios to run: any of a,b,c,d,e, or `all`. The baseline (e) always runs first.
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Concurrent keep-alive connections per step of scenarios a, b, c and e.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub connections: Vec<usize>,
    /// Measured seconds per step.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Seconds of load before each measured window (not counted).
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Seconds one request (or one whole turn) may take before it counts as a timeout.
    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,
    /// Where the started service keeps its data: embedded (SQLite, in-process cache and limiter)
    /// or postgres (fresh database on 127.0.0.1:5432 plus Redis).
    #[arg(long, value_enum, default_value_t = Backend::Embedded)]
    pub backend: Backend,
    /// Admin URL of the Postgres server used by `--backend postgres` (a fresh database is
    /// created next to it for every service start).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub database_url: String,
    /// Redis used by `--backend postgres`.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Target an already running service (loopback only) instead of starting one; point it at
    /// the fake model with `--model-port`.
    #[arg(long)]
    pub url: Option<String>,
    /// Process id(s) of the `--url` service, to read its RSS and CPU (comma-separated for a
    /// deployment of several processes: figures are summed).
    #[arg(long, value_delimiter = ',')]
    pub pid: Vec<u32>,
    /// How requests authenticate: dev (`X-User-ID`, development principal) or jwt (RS256
    /// bearer tokens verified against the JWKS the harness serves).
    #[arg(long, value_enum, default_value_t = DEFAULT_AUTH)]
    pub auth: AuthMode,
    /// Tokens the fake model streams per answer (scenarios b seeding and c).
    #[arg(long, default_value_t = 20)]
    pub tokens: usize,
    /// Milliseconds between two tokens of the fake model (0 = instant).
    #[arg(long, default_value_t = 0)]
    pub token_interval_ms: u64,
    /// Open streams held in scenario d (one step per value).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub streams: Vec<usize>,
    /// Seconds every stream of scenario d is held open once all are open.
    #[arg(long, default_value_t = 60)]
    pub hold_secs: u64,
    /// Milliseconds between two tokens of the fake model in scenario d.
    #[arg(long, default_value_t = 5000)]
    pub hold_token_interval_ms: u64,
    /// Longest time scenario d may take to open all its streams.
    #[arg(long, default_value_t = 120)]
    pub ramp_secs: u64,
    /// Streams of scenario d being opened at the same time (the rest wait their turn).
    #[arg(long, default_value_t = 256)]
    pub open_concurrency: usize,
    /// Users seeded for scenario b.
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// Threads each seeded user owns in scenario b.
    #[arg(long, default_value_t = 50)]
    pub threads_per_user: usize,
    /// Load-generator processes (0 = one in-process generator for a, b, c, e and one process
    /// per 4,000 streams, at least two, for d).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Client sockets are spread over the source addresses 127.0.0.2 … 127.0.0.(1+N).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_ips: u8,
    /// Port of the fake model (and of the JWKS it serves); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub model_port: u16,
    /// Service processes started per service, sharing one port through `SO_REUSEPORT`
    /// (`REUSE_PORT=true`) and, with `--backend postgres`, one database and Redis; RSS, CPU
    /// and file descriptors are summed over them.
    #[arg(long, default_value_t = 1)]
    pub service_processes: usize,
    /// Instead of the scenarios: one service under mixed traffic (cached lessons,
    /// `threads.list` and whole turns at once, back to back) for `--soak-secs`, its RSS, open
    /// file descriptors and CPU sampled every `--soak-sample-secs`; the report shows the curve.
    #[arg(long)]
    pub soak: bool,
    /// Length of the soak's measured window, in seconds (30 minutes by default).
    #[arg(long, default_value_t = 1800)]
    pub soak_secs: u64,
    /// Seconds between two samples of the soak.
    #[arg(long, default_value_t = 10)]
    pub soak_sample_secs: u64,
    /// Keep-alive connections per kind of soak traffic (lessons, lists, turns).
    #[arg(long, default_value_t = 8)]
    pub soak_connections: usize,
    /// Extra `KEY=VALUE` environment for the started service (repeatable).
    #[arg(long = "service-env")]
    pub service_env: Vec<String>,
    /// Replace the load section of the report file and write one PNG chart per scenario.
    #[arg(long)]
    pub write_report: bool,
    /// Report file whose `<!-- load:begin -->` … `<!-- load:end -->` section is replaced.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub report_file: PathBuf,
    /// Folder of the PNG charts.
    #[arg(long, default_value = "docs/bench")]
    pub chart_dir: PathBuf,
    /// Internal: run one load-generator job read as JSON from stdin, answer JSON on stdout.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Internal: serve the bare poem "hello" baseline and print its address on stdout.
    #[arg(long, hide = true)]
    pub hello_server: bool,
}

/// Where the started service keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite in a temporary folder, in-process lesson cache and rate limiter.
    Embedded,
    /// A fresh Postgres database and Redis.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Embedded => "embedded (SQLite, in-process cache and limiter)",
            Self::Postgres => "Postgres + Redis",
        })
    }
}

/// How the load generator authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Development principal: `X-User-ID` header (`DEV_MODE=true`).
    Dev,
    /// RS256 bearer tokens signed with the harness' test key, verified through its JWKS.
    Jwt,
}

/// One load scenario of issue 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Cached `GET /v1/lessons`, rate limiting on.
    A,
    /// `threads.list` for users owning 50 threads.
    B,
    /// Whole tutoring turns read to the end.
    C,
    /// Open streams held while the model is slow.
    D,
    /// Bare poem "hello" baseline.
    E,
}

impl Scenario {
    /// Single-letter name.
    pub fn letter(self) -> char {
        match self {
            Self::A => 'a',
            Self::B => 'b',
            Self::C => 'c',
            Self::D => 'd',
            Self::E => 'e',
        }
    }

    /// What the scenario measures, for headings.
    pub fn title(self) -> &'static str {
        match self {
            Self::A => "a. cached `GET /v1/lessons` (rate limiting on)",
            Self::B => "b. `threads.list` (limit 20) for users owning 50 threads",
            Self::C => "c. tutoring turns (`threads.create`, stream read to the end)",
            Self::D => "d. open tutoring streams held while the model is slow",
            Self::E => "e. baseline: bare poem \"hello\"",
        }
    }
}

/// The scenarios named by `--scenario`, baseline first, each once.
///
/// # Errors
/// A name that is not a scenario.
pub fn parse_scenarios(list: &str) -> Result<Vec<Scenario>, String> {
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let scenarios: &[Scenario] = match name.to_ascii_lowercase().as_str() {
            "all" => &[
                Scenario::E,
                Scenario::A,
                Scenario::B,
                Scenario::C,
                Scenario::D,
            ],
            "a" => &[Scenario::A],
            "b" => &[Scenario::B],
            "c" => &[Scenario::C],
            "d" => &[Scenario::D],
            "e" => &[Scenario::E],
            other => return Err(format!("unknown scenario {other:?} (a, b, c, d, e or all)")),
        };
        for s in scenarios {
            if !chosen.contains(s) {
                chosen.push(*s);
            }
        }
    }
    chosen.sort_by_key(|s| (*s != Scenario::E, *s));
    if chosen.is_empty() {
        return Err("no scenario chosen".into());
    }
    Ok(chosen)
}

/// `MODEL_HTTP_VERSION` the harness gives the service unless `--service-env` says otherwise:
/// the fake model speaks HTTP/2 with prior knowledge, as a provider reached over HTTPS
/// negotiates it, so model streams share connections.
pub const DEFAULT_MODEL_HTTP_VERSION: &str = "http2";

impl Cli {
    /// The value `--service-env` gives `key` (the last one wins, as in the started service).
    fn service_env_value(&self, key: &str) -> Option<&str> {
        self.service_env.iter().rev().find_map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }

    /// The `MODEL_HTTP_VERSION` the started service runs with.
    pub fn model_http_version(&self) -> &str {
        self.service_env_value("MODEL_HTTP_VERSION")
            .unwrap_or(DEFAULT_MODEL_HTTP_VERSION)
    }

    /// Sockets one open stream costs the service: the client's, plus the model's over
    /// HTTP/1.1 or a share of one HTTP/2 connection (100 streams each by default).
    pub fn sockets_per_stream(&self) -> f64 {
        let per_connection = self
            .service_env_value("MODEL_STREAMS_PER_CONNECTION")
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| *n >= 1.0)
            .unwrap_or(100.0);
        if self.model_http_version() == "http2" {
            1.0 + 1.0 / per_connection
        } else {
            2.0
        }
    }

    /// The command that reproduces this run, for the report.
    pub fn command_line(raw: &[String]) -> String {
        let quote = |a: &String| {
            if a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        };
        let args: Vec<String> = raw.iter().skip(1).map(quote).collect();
        if args.is_empty() {
            "cargo bench --bench load".into()
        } else {
            format!("cargo bench --bench load -- {}", args.join(" "))
        }
    }

    /// Problems with option values, all at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.connections.is_empty() || self.connections.contains(&0) {
            problems.push("--connections needs positive numbers".into());
        }
        if self.streams.is_empty() || self.streams.contains(&0) {
            problems.push("--streams needs positive numbers".into());
        }
        if self.duration_secs == 0 || self.timeout_secs == 0 || self.hold_secs == 0 {
            problems.push("--duration-secs, --timeout-secs and --hold-secs must be > 0".into());
        }
        if self.hold_token_interval_ms == 0 {
            problems.push("--hold-token-interval-ms must be > 0 (d holds slow streams)".into());
        }
        if self.open_concurrency == 0 || self.users == 0 {
            problems.push("--open-concurrency and --users must be > 0".into());
        }
        if self.service_processes == 0 {
            problems.push("--service-processes must be > 0".into());
        }
        if self.service_processes > 1 && self.url.is_some() {
            problems.push(
                "--service-processes applies to started services, not to --url (give every process id with --pid)".into(),
            );
        } else if self.service_processes > 1 && self.backend == Backend::Embedded {
            problems.push(format!(
                "--service-processes {} cannot share the embedded backend (one SQLite file, in-process cache and limiter per process): use --backend postgres, whose database and Redis make the processes one deployment",
                self.service_processes
            ));
        }
        for pair in &self.service_env {
            if !pair.contains('=') {
                problems.push(format!("--service-env {pair:?} is not KEY=VALUE"));
            }
        }
        if self.soak && (self.soak_secs == 0 || self.soak_sample_secs == 0) {
            problems.push("--soak-secs and --soak-sample-secs must be > 0".into());
        }
        if self.soak && self.soak_connections == 0 {
            problems.push("--soak-connections must be > 0".into());
        }
        if self.soak && self.service_processes > 1 {
            problems.push("--soak runs one service process".into());
        }
        if let Err(e) = parse_scenarios(&self.scenario) {
            problems.push(e);
        }
        problems
    }
}
