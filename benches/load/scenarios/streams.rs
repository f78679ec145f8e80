//! Scenario d: open tutoring streams held while the fake model is slow, one fresh service per
//! `--streams` value, the generator split over worker processes.

use std::time::Duration;

use super::measure::measure;
use super::{Runner, ScenarioRun, setup};
use crate::cli::Scenario;
use crate::error::HarnessError;
use crate::fake_model::Script;
use crate::generator::Mode;

/// Streams of scenario d handled by one generator process by default.
pub const STREAMS_PER_WORKER: usize = 4000;

impl Runner<'_> {
    pub(super) async fn open_streams(&self) -> Result<ScenarioRun, HarnessError> {
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
                measure(&service.pids, job, workers, Duration::ZERO, true).await
            }
            .await;
            let ready_ms = service.ready_ms();
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
        let mut notes = vec![format!(
            "fake model: first token at once, then one every {} ms; streams opened at most {} at a time, held {} s after the last opened; generator split over processes of at most {STREAMS_PER_WORKER} streams, client sockets spread over {} source addresses",
            cli.hold_token_interval_ms, cli.open_concurrency, cli.hold_secs, cli.source_ips
        )];
        if cli.url.is_none() && cli.service_processes > 1 {
            notes.push(format!(
                "{} service processes per step, started one after another on one port; service fds and their limit are sums over them (capacity = {} × the per-process limit)",
                cli.service_processes, cli.service_processes
            ));
        }
        Ok(ScenarioRun {
            scenario: Scenario::D,
            ready_ms: ready,
            notes,
            steps,
        })
    }
}
