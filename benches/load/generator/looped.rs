//! Loop mode: every connection sends its request back to back over one keep-alive connection
//! (reconnecting when the service closes it) until the window ends. Requests (and errors) are
//! counted when they complete inside the measured window, as `wrk` does; those still in flight
//! when it closes are dropped. Throughput = completed requests / window.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::time::Instant;

use super::conn::{Conn, Failure, Prepared, SseScan, connect, read_body};
use super::{Job, JobResult, Shared, with};

/// Pause before reconnecting after a failed connect, so a dead service is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// What one successful request measured.
struct Sample {
    total_us: u64,
    ttfe_us: Option<u64>,
    events: u64,
}

/// Runs the job's connections for `warmup_ms + duration_ms`.
///
/// # Errors
/// When the request spec is not valid HTTP.
pub async fn run(
    job: Job,
    warmup_ms: u64,
    duration_ms: u64,
    timeout_ms: u64,
) -> Result<JobResult, String> {
    let prepared = (0..job.connections)
        .map(|i| Prepared::new(&job.request, &job.host, job.identity(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let job = Arc::new(job);
    let shared: Shared = Arc::new(Mutex::new(JobResult::default()));
    let window_start = Instant::now() + Duration::from_millis(warmup_ms);
    let end = window_start + Duration::from_millis(duration_ms);
    let timeout = Duration::from_millis(timeout_ms);
    let tasks: Vec<_> = prepared
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let clock = Clock {
                window_start,
                end,
                timeout,
            };
            tokio::spawn(connection(job.clone(), i, p, shared.clone(), clock))
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            eprintln!("load: a connection task failed: {e}");
        }
    }
    let mut result = with(&shared, std::mem::take);
    result.window_ms = duration_ms;
    Ok(result)
}

#[derive(Clone, Copy)]
struct Clock {
    window_start: Instant,
    end: Instant,
    timeout: Duration,
}

async fn connection(job: Arc<Job>, local: usize, prepared: Prepared, shared: Shared, clock: Clock) {
    let source = job.source_ip(job.first_index + local);
    let mut conn: Option<Conn> = None;
    loop {
        let now = Instant::now();
        if now >= clock.end {
            break;
        }
        let counted = now >= clock.window_start;
        if conn.as_ref().is_none_or(Conn::is_closed) {
            match connect(job.addr, source).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    if counted {
                        with(&shared, |r| r.error(&Failure::Connect.to_string()));
                    }
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            }
        }
        let Some(open) = conn.as_mut() else {
            continue;
        };
        let started = Instant::now();
        let outcome = tokio::select! {
            r = tokio::time::timeout(clock.timeout, one(open, &prepared, job.request.stream, started)) => {
                r.unwrap_or(Err(Failure::Timeout))
            }
            () = tokio::time::sleep_until(clock.end) => break,
        };
        let counted = Instant::now() >= clock.window_start;
        match outcome {
            Ok(sample) if counted => with(&shared, |r| {
                r.completed += 1;
                r.latency.record(sample.total_us);
                if let Some(ttfe) = sample.ttfe_us {
                    r.ttfe.record(ttfe);
                }
                r.events += sample.events;
            }),
            Ok(_) => {}
            Err(failure) => {
                if counted {
                    with(&shared, |r| r.error(&failure.to_string()));
                }
                // A status error leaves the connection usable; anything else may not.
                if !matches!(failure, Failure::Status(_)) {
                    conn = None;
                }
            }
        }
    }
}

fn micros_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}

async fn one(
    conn: &mut Conn,
    prepared: &Prepared,
    stream: bool,
    started: Instant,
) -> Result<Sample, Failure> {
    let resp = conn.send(prepared).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let _ = read_body(&mut body, false).await;
        return Err(Failure::Status(status.as_u16()));
    }
    if !stream {
        read_body(&mut body, false).await?;
        return Ok(Sample {
            total_us: micros_since(started),
            ttfe_us: None,
            events: 0,
        });
    }
    let mut scan = SseScan::default();
    let mut ttfe_us = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failure::StreamCut)?;
        if let Some(data) = frame.data_ref()
            && scan.feed(data) > 0
            && ttfe_us.is_none()
        {
            ttfe_us = Some(micros_since(started));
        }
    }
    if scan.error_event {
        return Err(Failure::StreamErrorEvent);
    }
    if !scan.finished_turn() {
        return Err(Failure::StreamIncomplete);
    }
    Ok(Sample {
        total_us: micros_since(started),
        ttfe_us,
        events: scan.events,
    })
}
