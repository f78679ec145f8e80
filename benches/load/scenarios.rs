//! Runs the chosen scenarios: for each one a fresh fake model and a fresh service (or the
//! `--url` target), set-up through the API, then one measured step per connection count (per
//! stream count for d), with the service's peak RSS and CPU read from /proc around each step.

mod setup;

use std::time::Duration;

use crate::auth::{self, Identities};
use crate::cli::{Backend, Cli, Scenario};
use crate::error::HarnessError;
use crate::fake_model::{self, FakeModel, Script};
use crate::generator::{Job, JobResult, Mode, RequestSpec};
use crate::service::{self, ChildServer, Database, Target};
use crate::worker;

/// Streams of scenario d handled by one generator process by default.
const STREAMS_PER_WORKER: usize = 4000;

/// One measured step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Connections (a, b, c, e) or streams (d).
    pub load: usize,
    /// What the generator measured.
    pub result: JobResult,
    /// Service RSS just before the measured window, kB.
    pub rss_before_kb: Option<u64>,
    /// Peak service RSS during the step (`VmHWM` after a reset), kB.
    pub rss_peak_kb: Option<u64>,
    /// Service CPU seconds (user + system) during the step.
    pub cpu_secs: Option<f64>,
    /// Milliseconds from spawn to ready of the service started for this step (d only).
    pub ready_ms: Option<u64>,
}

/// Everything one scenario measured.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// Which scenario.
    pub scenario: Scenario,
    /// Milliseconds from spawn to ready of the service it started (fresh database, migrations
    /// included).
    pub ready_ms: Option<u64>,
    /// Set-up facts worth reporting (seeding time, model script, …).
    pub notes: Vec<String>,
    /// One per connection (or stream) count.
    pub steps: Vec<Step>,
}

/// The service a scenario talks to.
struct Service {
    target: Target,
    pid: Option<u32>,
    child: Option<ChildServer>,
    database: Option<Database>,
}

impl Service {
    async fn stop(self) {
        if let Some(child) = self.child {
            child.stop().await;
        }
        if let Some(db) = self.database {
            db.drop_db().await;
        }
    }
}

/// Runs scenarios with the options of one command line.
pub struct Runner<'a> {
    cli: &'a Cli,
    identities: Identities,
}

impl<'a> Runner<'a> {
    /// Prepares the identities (and the signing key for `--auth jwt`).
    ///
    /// # Errors
    /// When the bench key cannot be loaded.
    pub fn new(cli: &'a Cli) -> Result<Self, HarnessError> {
        Ok(Self {
            cli,
            identities: Identities::new(cli.auth)?,
        })
    }

    /// Runs `scenarios` in order.
    ///
    /// # Errors
    /// The first scenario that cannot be set up or measured.
    pub async fn run(&self, scenarios: &[Scenario]) -> Result<Vec<ScenarioRun>, HarnessError> {
        let mut runs = Vec::new();
        for &scenario in scenarios {
            eprintln!("load: scenario {}", scenario.title());
            let run = match scenario {
                Scenario::E => self.baseline().await?,
                Scenario::A => self.lessons().await?,
                Scenario::B => self.threads_list().await?,
                Scenario::C => self.turns().await?,
                Scenario::D => self.open_streams().await?,
            };
            runs.push(run);
        }
        Ok(runs)
    }

    fn loop_mode(&self) -> Mode {
        Mode::Loop {
            warmup_ms: self.cli.warmup_secs * 1000,
            duration_ms: self.cli.duration_secs * 1000,
            timeout_ms: self.cli.timeout_secs * 1000,
        }
    }

    fn job(
        &self,
        target: &Target,
        request: RequestSpec,
        identities: Vec<Vec<(String, String)>>,
        connections: usize,
        mode: Mode,
    ) -> Job {
        Job {
            addr: target.addr,
            host: target.host.clone(),
            request,
            identities,
            first_index: 0,
            connections,
            source_ips: self.cli.source_ips,
            mode,
        }
    }

    /// One step per `--connections` value of a request scenario.
    async fn connection_steps(
        &self,
        service: &Service,
        request: &RequestSpec,
        identities: &[Vec<(String, String)>],
    ) -> Result<Vec<Step>, HarnessError> {
        let mut steps = Vec::new();
        for &connections in &self.cli.connections {
            let job = self.job(
                &service.target,
                request.clone(),
                identities.to_vec(),
                connections,
                self.loop_mode(),
            );
            let warmup = Duration::from_secs(self.cli.warmup_secs);
            let step = measure(service.pid, job, self.cli.workers, warmup, connections).await?;
            eprintln!(
                "load:   {connections} connections: {} ok in {} s, {} errors",
                step.result.completed,
                self.cli.duration_secs,
                step.result.error_count()
            );
            steps.push(step);
        }
        Ok(steps)
    }

    /// A fake model with `script`, and the service pointed at it (or the `--url` target).
    async fn start(
        &self,
        script: Script,
        extra: &[(String, String)],
    ) -> Result<(FakeModel, Service), HarnessError> {
        let model = fake_model::start(script, self.cli.model_port).await?;
        if let Some(url) = &self.cli.url {
            eprintln!(
                "load: targeting {url}; its OPENAI_BASE_URL must be {} (JWKS_URL {})",
                model.base_url(),
                model.jwks_url()
            );
            let service = Service {
                target: Target::from_url(url)?,
                pid: self.cli.pid,
                child: None,
                database: None,
            };
            return Ok((model, service));
        }
        let database = match self.cli.backend {
            Backend::Embedded => None,
            Backend::Postgres => Some(Database::create(&self.cli.database_url).await?),
        };
        let mut env = vec![
            (
                "LESSONS_DIR".to_string(),
                format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR")),
            ),
            ("OPENAI_API_KEY".into(), "sk-load-bench".into()),
            ("OPENAI_BASE_URL".into(), model.base_url()),
            // Rate limiting stays on, with quotas too large to reject anything.
            ("RATE_LIMIT_API_FREE".into(), "1000000/second".into()),
            ("RATE_LIMIT_CHAT_FREE".into(), "1000000/second".into()),
        ];
        env.extend(auth::service_env(self.cli.auth, &model.jwks_url()));
        if let Some(db) = &database {
            env.push(("DATABASE_URL".into(), db.url.clone()));
            env.push(("REDIS_URL".into(), self.cli.redis_url.clone()));
        }
        env.extend(extra.iter().cloned());
        env.extend(self.cli.service_env.iter().filter_map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        }));
        let child = match service::start_service(&env).await {
            Ok(child) => child,
            Err(e) => {
                if let Some(db) = database {
                    db.drop_db().await;
                }
                return Err(e);
            }
        };
        let service = Service {
            target: child.target.clone(),
            pid: Some(child.pid),
            child: Some(child),
            database,
        };
        Ok((model, service))
    }

    fn instant_script(&self) -> Script {
        Script {
            tokens: self.cli.tokens,
            interval: Duration::from_millis(self.cli.token_interval_ms),
        }
    }

    async fn baseline(&self) -> Result<ScenarioRun, HarnessError> {
        let hello = service::start_hello().await?;
        let service = Service {
            target: hello.target.clone(),
            pid: Some(hello.pid),
            child: Some(hello),
            database: None,
        };
        let request = setup::get("/hello");
        let steps = self.connection_steps(&service, &request, &[]).await;
        service.stop().await;
        Ok(ScenarioRun {
            scenario: Scenario::E,
            ready_ms: None,
            notes: vec!["poem 3 `Route` with one handler returning `hello`, no middleware".into()],
            steps: steps?,
        })
    }

    async fn lessons(&self) -> Result<ScenarioRun, HarnessError> {
        let (_model, service) = self.start(self.instant_script(), &[]).await?;
        let outcome = async {
            let identities = self.identities.for_users("reader", 256)?;
            let request = setup::get(&format!("/v1/lessons?path={}", setup::LESSON));
            // The first read fills the cache and proves the identity is accepted.
            setup::expect_ok(&service.target, &request, &identities[0], self.cli.auth).await?;
            self.connection_steps(&service, &request, &identities).await
        }
        .await;
        let ready_ms = service.child.as_ref().map(|c| c.ready_ms);
        service.stop().await;
        Ok(ScenarioRun {
            scenario: Scenario::A,
            ready_ms,
            notes: vec![format!(
                "lesson `{}` from `examples/lessons` (LESSONS_DIR), cached after one read; one user per connection",
                setup::LESSON
            )],
            steps: outcome?,
        })
    }

    async fn threads_list(&self) -> Result<ScenarioRun, HarnessError> {
        let (_model, service) = self
            .start(
                Script {
                    tokens: 5,
                    interval: Duration::ZERO,
                },
                &[],
            )
            .await?;
        let users = self.cli.users;
        let outcome = async {
            let identities = self.identities.for_users("lister", users)?;
            let seeded =
                setup::seed_threads(&service.target, &identities, self.cli.threads_per_user)
                    .await?;
            let request = setup::threads_list();
            let page =
                setup::expect_ok(&service.target, &request, &identities[0], self.cli.auth).await?;
            // A full first page with more behind it proves the seeding reached this user.
            if self.cli.threads_per_user > 20
                && !String::from_utf8_lossy(&page).contains("\"has_more\":true")
            {
                return Err(HarnessError::setup(
                    "threads.list",
                    "the seeded user's first page has no more threads behind it",
                ));
            }
            let steps = self
                .connection_steps(&service, &request, &identities)
                .await?;
            Ok::<_, HarnessError>((seeded, steps))
        }
        .await;
        let ready_ms = service.child.as_ref().map(|c| c.ready_ms);
        service.stop().await;
        let (seeded, steps) = outcome?;
        Ok(ScenarioRun {
            scenario: Scenario::B,
            ready_ms,
            notes: vec![format!(
                "{users} users × {} threads seeded through the API (`threads.create`, instant 5-token model) in {:.1} s; connection i lists as user i mod {users}",
                self.cli.threads_per_user,
                seeded.as_secs_f64()
            )],
            steps,
        })
    }

    async fn turns(&self) -> Result<ScenarioRun, HarnessError> {
        let script = self.instant_script();
        let (model, service) = self.start(script, &[]).await?;
        let outcome = async {
            let identities = self.identities.for_users("student", 256)?;
            let request = setup::turn();
            setup::expect_ok(&service.target, &request, &identities[0], self.cli.auth).await?;
            self.connection_steps(&service, &request, &identities).await
        }
        .await;
        let ready_ms = service.child.as_ref().map(|c| c.ready_ms);
        service.stop().await;
        Ok(ScenarioRun {
            scenario: Scenario::C,
            ready_ms,
            notes: vec![
                format!(
                    "fake model: {} tokens, {} ms apart (0 = one write); {} completions served",
                    script.tokens,
                    script.interval.as_millis(),
                    model.requests.load(std::sync::atomic::Ordering::Relaxed)
                ),
                "each turn is `threads.create` with a user message on the sample lesson, read to the last event; TTFE = time to the first SSE event".into(),
            ],
            steps: outcome?,
        })
    }

    async fn open_streams(&self) -> Result<ScenarioRun, HarnessError> {
        let cli = self.cli;
        let interval = Duration::from_millis(cli.hold_token_interval_ms);
        let budget_secs = cli.ramp_secs + cli.hold_secs + 60;
        let tokens = usize::try_from(budget_secs * 1000 / cli.hold_token_interval_ms + 2)
            .unwrap_or(usize::MAX);
        let timeout_env = vec![(
            "MODEL_TIMEOUT_SECS".to_string(),
            (budget_secs + 60).to_string(),
        )];
        let mut steps = Vec::new();
        let mut ready = None;
        for &streams in &cli.streams {
            let (_model, service) = self
                .start(Script { tokens, interval }, &timeout_env)
                .await?;
            let workers = if cli.workers > 0 {
                cli.workers
            } else {
                streams.div_ceil(STREAMS_PER_WORKER).max(2)
            };
            let outcome = async {
                let identities = self.identities.for_users("holder", streams.min(1000))?;
                let mode = Mode::Hold {
                    ramp_ms: cli.ramp_secs * 1000,
                    hold_ms: cli.hold_secs * 1000,
                    open_concurrency: cli.open_concurrency,
                };
                let job = self.job(&service.target, setup::turn(), identities, streams, mode);
                eprintln!("load:   opening {streams} streams over {workers} generator processes");
                measure(service.pid, job, workers, Duration::ZERO, streams).await
            }
            .await;
            let ready_ms = service.child.as_ref().map(|c| c.ready_ms);
            ready = ready.or(ready_ms);
            service.stop().await;
            let mut step = outcome?;
            step.ready_ms = ready_ms;
            eprintln!(
                "load:   {streams} streams: {} opened, {} held to the end, {} errors",
                step.result.opened,
                step.result.held,
                step.result.error_count()
            );
            steps.push(step);
        }
        Ok(ScenarioRun {
            scenario: Scenario::D,
            ready_ms: ready,
            notes: vec![format!(
                "fake model: first token at once, then one every {} ms; streams opened at most {} at a time, held {} s after the last opened; generator split over processes of at most {STREAMS_PER_WORKER} streams, client sockets spread over {} source addresses",
                cli.hold_token_interval_ms, cli.open_concurrency, cli.hold_secs, cli.source_ips
            )],
            steps,
        })
    }
}

/// Runs `job` while reading the service's RSS and CPU around the measured window.
async fn measure(
    pid: Option<u32>,
    job: Job,
    workers: usize,
    warmup: Duration,
    load: usize,
) -> Result<Step, HarnessError> {
    let window_start = async {
        tokio::time::sleep(warmup).await;
        let before = pid.and_then(|p| service::status_kb(p, "VmRSS:"));
        if let Some(p) = pid
            && !service::reset_peak(p)
        {
            eprintln!("load: cannot reset the peak RSS of pid {p}; peak covers the process' life");
        }
        (before, pid.and_then(service::cpu_secs))
    };
    let (result, (rss_before_kb, cpu_start)) =
        tokio::join!(worker::run_distributed(job, workers), window_start);
    let result = result?;
    let rss_peak_kb = pid.and_then(|p| service::status_kb(p, "VmHWM:"));
    let cpu_secs = match (cpu_start, pid.and_then(service::cpu_secs)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(Step {
        load,
        result,
        rss_before_kb,
        rss_peak_kb,
        cpu_secs,
        ready_ms: None,
    })
}
