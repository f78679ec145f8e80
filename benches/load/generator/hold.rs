//! Hold mode: each connection opens one tutoring stream (at most `open_concurrency` being
//! opened at a time, all within the ramp), waits for its first event, then keeps reading until
//! the hold ends: `hold_ms` after the last stream of this job opened (or failed). A stream that
//! breaks off, ends or reports an error before then counts as an error, by kind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use super::conn::{Conn, Failure, Prepared, SseScan, connect, read_body};
use super::{Job, JobResult, Shared, with};

/// Shared schedule of one hold job.
struct Plan {
    job: Job,
    shared: Shared,
    open_slots: Semaphore,
    ramp_end: Instant,
    settled: AtomicUsize,
    settled_signal: Notify,
}

impl Plan {
    fn settle(&self) {
        self.settled.fetch_add(1, Ordering::SeqCst);
        self.settled_signal.notify_one();
    }
}

/// Opens and holds the job's streams.
///
/// # Errors
/// When the request spec is not valid HTTP.
pub async fn run(
    job: Job,
    ramp_ms: u64,
    hold_ms: u64,
    open_concurrency: usize,
) -> Result<JobResult, String> {
    let prepared = (0..job.connections)
        .map(|i| Prepared::new(&job.request, &job.host, job.identity(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let count = job.connections;
    let start = Instant::now();
    let plan = Arc::new(Plan {
        job,
        shared: Arc::new(Mutex::new(JobResult::default())),
        open_slots: Semaphore::new(open_concurrency.max(1)),
        ramp_end: start + Duration::from_millis(ramp_ms),
        settled: AtomicUsize::new(0),
        settled_signal: Notify::new(),
    });
    let (hold_tx, hold_rx) = watch::channel::<Option<Instant>>(None);
    let tasks: Vec<_> = prepared
        .into_iter()
        .enumerate()
        .map(|(i, p)| tokio::spawn(stream(plan.clone(), i, p, hold_rx.clone())))
        .collect();
    // The hold starts once every stream is open (or failed), or when the ramp runs out.
    while plan.settled.load(Ordering::SeqCst) < count {
        tokio::select! {
            () = plan.settled_signal.notified() => {}
            () = tokio::time::sleep_until(plan.ramp_end) => break,
        }
    }
    let ramp_took = start.elapsed();
    eprintln!(
        "load: {} of {count} streams settled after {:.1} s; holding {} s",
        plan.settled.load(Ordering::SeqCst),
        ramp_took.as_secs_f64(),
        hold_ms / 1000
    );
    let _ = hold_tx.send(Some(Instant::now() + Duration::from_millis(hold_ms)));
    for task in tasks {
        if let Err(e) = task.await {
            eprintln!("load: a stream task failed: {e}");
        }
    }
    let mut result = with(&plan.shared, std::mem::take);
    result.window_ms = hold_ms;
    result.ramp_ms = u64::try_from(ramp_took.as_millis()).unwrap_or(u64::MAX);
    Ok(result)
}

/// An open stream: the connection must outlive the body it carries.
struct Open {
    _conn: Conn,
    body: Incoming,
    scan: SseScan,
    ttfe_us: u64,
}

async fn open(plan: &Plan, local: usize, prepared: &Prepared) -> Result<Open, Failure> {
    let started = Instant::now();
    let source = plan.job.source_ip(plan.job.first_index + local);
    let mut conn = connect(plan.job.addr, source)
        .await
        .map_err(|_| Failure::Connect)?;
    let resp = conn.send(prepared).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let _ = read_body(&mut body, false).await;
        return Err(Failure::Status(status.as_u16()));
    }
    let mut scan = SseScan::default();
    loop {
        match body.frame().await {
            None => return Err(Failure::EndedEarly),
            Some(Err(_)) => return Err(Failure::StreamCut),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref()
                    && scan.feed(data) > 0
                {
                    break;
                }
            }
        }
    }
    if scan.error_event {
        return Err(Failure::StreamErrorEvent);
    }
    Ok(Open {
        _conn: conn,
        body,
        scan,
        ttfe_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    })
}

async fn stream(
    plan: Arc<Plan>,
    local: usize,
    prepared: Prepared,
    mut hold_rx: watch::Receiver<Option<Instant>>,
) {
    let opened = {
        let permit = tokio::select! {
            p = plan.open_slots.acquire() => p.ok(),
            () = tokio::time::sleep_until(plan.ramp_end) => None,
        };
        match permit {
            None => Err(Failure::Timeout),
            Some(_permit) => tokio::select! {
                r = open(&plan, local, &prepared) => r,
                () = tokio::time::sleep_until(plan.ramp_end) => Err(Failure::Timeout),
            },
        }
    };
    let mut open = match opened {
        Ok(open) => open,
        Err(failure) => {
            with(&plan.shared, |r| r.error(&failure.to_string()));
            plan.settle();
            return;
        }
    };
    with(&plan.shared, |r| {
        r.opened += 1;
        r.ttfe.record(open.ttfe_us);
    });
    plan.settle();
    let outcome = tokio::select! {
        failure = read_until_end(&mut open.body, &mut open.scan) => Err(failure),
        () = hold_end(&mut hold_rx) => Ok(()),
    };
    with(&plan.shared, |r| {
        r.events += open.scan.events + open.scan.comments;
        match outcome {
            Ok(()) => r.held += 1,
            Err(failure) => r.error(&failure.to_string()),
        }
    });
}

/// Reads a held stream; it only returns when the stream stops being healthy.
async fn read_until_end(body: &mut Incoming, scan: &mut SseScan) -> Failure {
    loop {
        match body.frame().await {
            None => return Failure::EndedEarly,
            Some(Err(_)) => return Failure::StreamCut,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    scan.feed(data);
                    if scan.error_event {
                        return Failure::StreamErrorEvent;
                    }
                }
            }
        }
    }
}

/// Waits for the hold's end once the coordinator has announced it.
async fn hold_end(rx: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let announced = *rx.borrow_and_update();
        if let Some(end) = announced {
            tokio::time::sleep_until(end).await;
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
