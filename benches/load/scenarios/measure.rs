//! One measured step: the generator's job, and the service's RSS, CPU and open descriptors
//! read from /proc around it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::Step;
use crate::error::HarnessError;
use crate::generator::Job;
use crate::service;
use crate::worker;

/// Runs `job` while reading the service's RSS and CPU around the measured window (and, with
/// `sample_fds`, its open file descriptors once a second).
pub async fn measure(
    pid: Option<u32>,
    job: Job,
    workers: usize,
    warmup: Duration,
    sample_fds: bool,
) -> Result<Step, HarnessError> {
    let load = job.connections;
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
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = pid.filter(|_| sample_fds).map(|p| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(n) = service::open_fds(p) {
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
        fd_limit: pid.and_then(service::fd_limit),
        peak_fds,
    })
}
