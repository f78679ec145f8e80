//! Runs the chosen scenarios: for each one a fresh fake model and a fresh service (or the
//! `--url` target), set-up through the API, then one measured step per connection count (per
//! stream count for d), with the service's peak RSS and CPU read from /proc around each step
//! (summed over its processes with `--service-processes N`).

mod measure;
mod setup;
mod soak;
mod streams;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::auth::{self, Identities};
use crate::cli::{self, Backend, Cli, Scenario};
use crate::error::HarnessError;
use crate::fake_model::{self, FakeModel, Script};
use crate::generator::{Job, JobResult, Mode, RequestSpec};
use crate::service::{self, ChildServer, Database, Target};
use measure::measure;

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
    /// Soft file-descriptor limit of the service process, from /proc/PID/limits.
    pub fd_limit: Option<u64>,
    /// Most file descriptors the service held at once (sampled each second; d only).
    pub peak_fds: Option<usize>,
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

/// The service a scenario talks to: one process, or several sharing its port.
struct Service {
    target: Target,
    /// Processes whose RSS, CPU and fds are read (summed).
    pids: Vec<u32>,
    /// Started processes, the first one being the one that migrated the fresh database.
    children: Vec<ChildServer>,
    database: Option<Database>,
}

impl Service {
    /// Spawn-to-ready of the first started process (fresh database, migrations applied).
    fn ready_ms(&self) -> Option<u64> {
        self.children.first().map(|c| c.ready_ms)
    }

    async fn stop(self) {
        for child in self.children {
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
            let step = measure(&service.pids, job, self.cli.workers, warmup, false).await?;
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
                pids: self.cli.pid.clone(),
                children: Vec::new(),
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
            (
                "MODEL_HTTP_VERSION".into(),
                cli::DEFAULT_MODEL_HTTP_VERSION.into(),
            ),
            // Rate limiting stays on, with quotas too large to reject anything.
            ("RATE_LIMIT_API_FREE".into(), "1000000/second".into()),
            ("RATE_LIMIT_CHAT_FREE".into(), "1000000/second".into()),
            ("TOKEN_BUDGET_FREE".into(), "unlimited".into()),
            // So are the storage caps: long runs make many threads per identity.
            ("MAX_THREADS_PER_USER".into(), "1000000".into()),
            ("MAX_ITEMS_PER_THREAD".into(), "1000000".into()),
            // No background sync of the book beside what is measured.
            ("SYNC_ON_START".into(), "false".into()),
            // The allocator options the container image sets (see the Dockerfile).
            ("MIMALLOC_ARENA_EAGER_COMMIT".into(), "0".into()),
            ("MIMALLOC_PURGE_DELAY".into(), "0".into()),
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
        let children = match service::start_services(&env, self.cli.service_processes).await {
            Ok(children) => children,
            Err(e) => {
                if let Some(db) = database {
                    db.drop_db().await;
                }
                return Err(e);
            }
        };
        let service = Service {
            target: children[0].target.clone(),
            pids: children.iter().map(|c| c.pid).collect(),
            children,
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
            pids: vec![hello.pid],
            children: vec![hello],
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
        let ready_ms = service.ready_ms();
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
        let ready_ms = service.ready_ms();
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
        let ready_ms = service.ready_ms();
        service.stop().await;
        Ok(ScenarioRun {
            scenario: Scenario::C,
            ready_ms,
            notes: vec![
                format!(
                    "fake model: {} tokens, {} ms apart (0 = one write); {} completions served",
                    script.tokens,
                    script.interval.as_millis(),
                    model.requests.load(Ordering::Relaxed)
                ),
                "each turn is `threads.create` with a user message on the sample lesson, read to the last event; TTFE = time to the first SSE event".into(),
            ],
            steps: outcome?,
        })
    }
}
