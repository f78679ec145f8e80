//! `--soak`: one service under mixed traffic for a long window — cached lessons,
//! `threads.list` and whole tutoring turns at once, each kind on its own keep-alive connections,
//! back to back — with the service's RSS, open file descriptors and CPU sampled at a fixed
//! interval, so the report can show whether memory and descriptors stay flat.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Runner, setup};
use crate::error::HarnessError;
use crate::generator::{Mode, RequestSpec};
use crate::service;
use crate::soak::{Sample, SoakRun, Traffic};
use crate::worker;

/// Headers that make one connection a user.
type Identity = Vec<(String, String)>;

/// Users per kind of soak traffic (connection i acts as user i mod this).
const SOAK_USERS: usize = 64;

impl Runner<'_> {
    /// Runs the soak of `--soak-secs` and returns its traffic and samples.
    ///
    /// # Errors
    /// When the service cannot be started or set up, or a generator fails.
    pub async fn soak(&self) -> Result<SoakRun, HarnessError> {
        let (_model, service) = self.start(self.instant_script(), &[]).await?;
        let outcome = self.soak_on(&service).await;
        let ready_ms = service.ready_ms();
        service.stop().await;
        let mut run = outcome?;
        run.ready_ms = ready_ms;
        Ok(run)
    }

    async fn soak_on(&self, service: &super::Service) -> Result<SoakRun, HarnessError> {
        let cli = self.cli;
        let readers = self.identities.for_users("soak-reader", SOAK_USERS)?;
        let listers = self.identities.for_users("soak-lister", SOAK_USERS)?;
        let students = self.identities.for_users("soak-student", SOAK_USERS)?;
        let lesson = setup::get(&format!("/v1/lessons?path={}", setup::LESSON));
        setup::expect_ok(&service.target, &lesson, &readers[0], cli.auth).await?;
        // Lists of a realistic length: a page of 20 with more behind it.
        let seeded = setup::seed_threads(&service.target, &listers, 25).await?;
        eprintln!(
            "load:   seeded {SOAK_USERS} × 25 threads in {:.1} s",
            seeded.as_secs_f64()
        );
        let turn = setup::turn();
        setup::expect_ok(&service.target, &turn, &students[0], cli.auth).await?;

        let mode = Mode::Loop {
            warmup_ms: cli.warmup_secs * 1000,
            duration_ms: cli.soak_secs * 1000,
            timeout_ms: cli.timeout_secs * 1000,
        };
        let kinds: [(&str, RequestSpec, Vec<Identity>); 3] = [
            ("cached `GET /v1/lessons`", lesson, readers),
            ("`threads.list` (limit 20)", setup::threads_list(), listers),
            (
                "tutoring turn (`threads.create`, stream to the end)",
                turn,
                students,
            ),
        ];

        let samples = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let sampler = {
            let samples = samples.clone();
            let pids = service.pids.clone();
            let every = Duration::from_secs(cli.soak_sample_secs);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let sample = read_sample(&pids, started);
                    if let Ok(mut all) = samples.lock() {
                        all.push(sample);
                    }
                }
            })
        };
        eprintln!(
            "load:   soaking for {} s ({} connections per kind, sample every {} s)",
            cli.soak_secs, cli.soak_connections, cli.soak_sample_secs
        );
        let runs = kinds.iter().map(|(_, request, identities)| {
            let job = self.job(
                &service.target,
                request.clone(),
                identities.clone(),
                cli.soak_connections,
                mode.clone(),
            );
            worker::run_distributed(job, 0)
        });
        let results = futures::future::join_all(runs).await;
        sampler.abort();
        let mut samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
        samples.push(read_sample(&service.pids, started));

        let mut traffic = Vec::new();
        for ((name, _, _), result) in kinds.iter().zip(results) {
            traffic.push(Traffic {
                name: (*name).to_string(),
                result: result?,
            });
        }
        Ok(SoakRun {
            secs: cli.soak_secs,
            warmup_secs: cli.warmup_secs,
            connections: cli.soak_connections,
            sample_secs: cli.soak_sample_secs,
            ready_ms: None,
            fd_limit: service::sum(&service.pids, service::fd_limit),
            traffic,
            samples,
        })
    }
}

fn read_sample(pids: &[u32], started: Instant) -> Sample {
    Sample {
        at_secs: started.elapsed().as_secs_f64(),
        rss_kb: service::sum(pids, |p| service::status_kb(p, "VmRSS:")),
        fds: service::sum(pids, service::open_fds),
        cpu_secs: service::sum(pids, service::cpu_secs),
    }
}
