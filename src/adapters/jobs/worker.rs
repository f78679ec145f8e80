//! A worker process's consumer of the queue: an apalis worker with exponential backoff between
//! tries, a per-try timeout, panics caught, `concurrency` tasks at a time, and a bounded
//! graceful stop.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::BackendExt;
use apalis::prelude::{
    Attempt, BoxDynError, Data, Monitor, RetryPolicy, TaskId, WorkerBuilder, WorkerBuilderExt,
};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use apalis::prelude::{WorkerContext, WorkerError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

use super::{ApalisQueue, Backend, QUEUE, QueueSettings, sql};
use crate::domain::ports::{TaskAttempt, TaskHandler};
use crate::domain::sync::SyncTask;

/// How a worker consumes the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Unique among live workers (e.g. `host-pid`).
    pub name: String,
    /// Tasks run at once (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Longest one try may take.
    pub try_timeout: Duration,
    /// Shortest and longest wait between two tries of a task.
    pub backoff: (Duration, Duration),
    /// How long a stop waits for running tasks before handing them back.
    pub grace: Duration,
}

pub(super) fn sqlite_config(settings: &QueueSettings, batch: usize) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(QUEUE)
        .batch_size(batch.max(1))
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(settings.missed_heartbeats.max(1) as usize)
}

pub(super) fn postgres_config(settings: &QueueSettings, batch: usize) -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(QUEUE)
        .batch_size(batch.max(1))
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(settings.missed_heartbeats.max(1) as usize)
}

/// The tries of a task, known to every try.
#[derive(Debug, Clone, Copy)]
struct MaxAttempts(u32);

async fn run_task(
    task: SyncTask,
    handler: Data<Arc<dyn TaskHandler>>,
    max: Data<MaxAttempts>,
    attempt: Attempt,
    id: TaskId,
) -> Result<(), BoxDynError> {
    let attempt = TaskAttempt {
        task_id: id.to_string(),
        number: u32::try_from(attempt.current()).unwrap_or(u32::MAX).max(1),
        max: (*max).0,
    };
    handler
        .handle(task, attempt)
        .await
        .map_err(BoxDynError::from)
}

macro_rules! monitor_for {
    ($storage:expr, $settings:expr, $queue:expr, $handler:expr, $restarts:expr) => {{
        let settings = $settings.clone();
        let handler = $handler.clone();
        let max = MaxAttempts($queue.settings.max_attempts.max(1));
        let storage = $storage;
        Monitor::new()
            .register(move |_| {
                let backoff = ExponentialBackoffMaker::new(
                    settings.backoff.0,
                    settings.backoff.1,
                    0.5,
                    HasherRng::default(),
                )
                .map(|mut maker| maker.make_backoff())
                .expect("backoff bounds are checked by the config");
                WorkerBuilder::new(settings.name.clone())
                    .backend(storage.clone())
                    .data(handler.clone())
                    .data(max)
                    // Order as apalis wants it: the concurrency slot outside the retries (a
                    // task keeps its slot through its backoff), a panic caught per try, the
                    // timeout per try, tracing innermost.
                    .concurrency(settings.concurrency.max(1))
                    .retry(RetryPolicy::retries(max.0 as usize - 1).with_backoff(backoff))
                    .catch_panic()
                    .timeout(settings.try_timeout)
                    .enable_tracing()
                    .build(run_task)
            })
            .should_restart(restart_guard($restarts.clone()))
            .shutdown_timeout($settings.grace)
    }};
}

/// A running worker.
pub struct WorkerHandle {
    stop: CancellationToken,
    consuming: Arc<AtomicBool>,
    done: JoinHandle<()>,
    backend: Backend,
    name: String,
}

impl WorkerHandle {
    /// Stops taking tasks, waits up to the grace for the running ones, then hands back what is
    /// left so another worker takes it at once.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Err(error) = (&mut self.done).await {
            tracing::warn!(%error, "job worker ended abnormally");
        }
        match sql::hand_back(&self.backend, &self.name).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tasks = n, "handed back tasks the grace cut short"),
            Err(error) => {
                tracing::warn!(%error, "could not hand back tasks; they return after the heartbeat timeout")
            }
        }
    }

    /// Whether it is taking tasks now (false while a run given up on repeated failures
    /// pauses before its next start); shared, for a readiness endpoint.
    pub fn consuming(&self) -> Arc<AtomicBool> {
        self.consuming.clone()
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Restarts of a worker's run allowed in [`RESTART_WINDOW`] before the run is given up and
/// started again after a pause, under a new name.
const RESTARTS_PER_WINDOW: usize = 3;
const RESTART_WINDOW: Duration = Duration::from_secs(30);
/// First and longest pause before a given-up run starts again.
const PAUSE: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(60));

/// Recent restarts of a run, and the signal that it was given up.
#[derive(Clone, Default)]
struct Restarts {
    recent: Arc<Mutex<VecDeque<Instant>>>,
    given_up: Arc<Notify>,
}

/// apalis restarts a worker whose backend failed at once and under the same name; a backend
/// that keeps failing (the database gone) would spin. A few restarts are allowed, then the run
/// ends and [`supervise`] starts it again after a growing pause.
fn restart_guard(
    restarts: Restarts,
) -> impl Fn(&WorkerContext, &WorkerError) -> bool + Send + Sync {
    move |_, error| {
        let now = Instant::now();
        let mut recent = restarts.recent.lock().unwrap_or_else(|p| p.into_inner());
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() < RESTARTS_PER_WINDOW {
            recent.push_back(now);
            tracing::warn!(%error, "job worker stopped on an error; restarting it");
            true
        } else {
            tracing::warn!(%error, "job worker keeps failing; pausing it before a new start");
            restarts.given_up.notify_one();
            false
        }
    }
}

/// Starts a worker taking tasks from `queue` and running them through `handler`.
pub fn start_worker(
    queue: &ApalisQueue,
    handler: Arc<dyn TaskHandler>,
    settings: WorkerSettings,
) -> WorkerHandle {
    let stop = CancellationToken::new();
    let consuming = Arc::new(AtomicBool::new(true));
    let done = tokio::spawn(supervise(
        queue.clone(),
        handler,
        settings.clone(),
        stop.clone(),
        consuming.clone(),
    ));
    WorkerHandle {
        stop,
        consuming,
        done,
        backend: queue.backend().clone(),
        name: settings.name,
    }
}

/// Runs the worker until `stop`; a run given up on repeated failures starts again after a
/// pause (doubling up to a minute) under the next name (`name-r1`, `name-r2`, …): apalis
/// refuses a name until its last heartbeat is stale.
async fn supervise(
    queue: ApalisQueue,
    handler: Arc<dyn TaskHandler>,
    settings: WorkerSettings,
    stop: CancellationToken,
    consuming: Arc<AtomicBool>,
) {
    let mut pause = PAUSE.0;
    for run in 0u32.. {
        consuming.store(true, Ordering::SeqCst);
        let mut settings = settings.clone();
        if run > 0 {
            settings.name = format!("{}-r{run}", settings.name);
        }
        let restarts = Restarts::default();
        let given_up = restarts.given_up.clone();
        let cancelled = stop.clone();
        let signal = async move {
            tokio::select! {
                () = cancelled.cancelled() => {}
                () = given_up.notified() => {}
            }
            Ok(())
        };
        let batch = settings.concurrency.max(1);
        let poll = queue.settings.poll_interval;
        let result = match queue.backend() {
            Backend::Sqlite(pool) => {
                let storage = SqliteStorage::<SyncTask>::new(pool)
                    .with_config(sqlite_config(&queue.settings, batch))
                    .poll_with_interval(poll);
                monitor_for!(storage, settings, queue, handler, restarts)
                    .run_with_signal(signal)
                    .await
            }
            Backend::Postgres(pool) => {
                let storage = PostgresStorage::<SyncTask>::new(pool)
                    .with_config(postgres_config(&queue.settings, batch))
                    .poll_with_interval(poll);
                monitor_for!(storage, settings, queue, handler, restarts)
                    .run_with_signal(signal)
                    .await
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "job worker run ended with an error");
        }
        if stop.is_cancelled() {
            return;
        }
        consuming.store(false, Ordering::SeqCst);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(PAUSE.1);
    }
}
