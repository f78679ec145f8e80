//! One measured step: the generator's job, and the service's RSS, CPU and open descriptors
//! read from /proc around it, summed over its processes (`--service-processes`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::Step;
use crate::error::HarnessError;
use crate::generator::Job;
use crate::service;
use crate::worker;

/// Runs `job` while reading the service's RSS and CPU around the measured window (and, with
/// `sample_fds`, its open file descriptors once a second), each summed over `pids` (none when
/// there is no pid to read).
pub async fn measure(
    pids: &[u32],
    job: Job,
    workers: usize,
    warmup: Duration,
    sample_fds: bool,
) -> Result<Step, HarnessError> {
    let load = job.connections;
    let window_start = async {
        tokio::time::sleep(warmup).await;
        let before = service::sum(pids, |p| service::status_kb(p, "VmRSS:"));
        for &p in pids {
            if !service::reset_peak(p) {
                eprintln!(
                    "load: cannot reset the peak RSS of pid {p}; peak covers the process' life"
                );
            }
        }
        (before, service::sum(pids, service::cpu_secs))
    };
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = (sample_fds && !pids.is_empty()).then(|| {
        let peak = peak.clone();
        let pids = pids.to_vec();
        tokio::spawn(async move {
            loop {
                if let Some(n) = service::sum(&pids, service::open_fds) {
                    peak.fetch_max(n, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    });
    let (result, (rss_before_kb, cpu_start)) =
        tokio::join!(worker::run_distributed(job, workers), window_start);
    let peak_fds = sampler.map(|task| {
        task.abort();
        peak.load(Ordering::Relaxed)
    });
    let result = result?;
    // Sum of each process' own peak: at most the peak of the sum, which /proc does not keep.
    let rss_peak_kb = service::sum(pids, |p| service::status_kb(p, "VmHWM:"));
    let cpu_secs = match (cpu_start, service::sum(pids, service::cpu_secs)) {
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
        fd_limit: service::sum(pids, service::fd_limit),
        peak_fds,
    })
}
