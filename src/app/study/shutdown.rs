//! Turns at shutdown. Every turn task is tracked, detached ones included (the student closed
//! the page but the answer is still being written), so the process waits for them. When the
//! grace ends, the turns still running are told to stop: each stores what the student already
//! saw as an interrupted answer (as a model failure does), tells a connected student so, and
//! releases its thread.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long stopped turns get to store their interrupted answers after the grace.
pub const FINALIZE_WINDOW: Duration = Duration::from_secs(5);

/// How a [`TurnTasks::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every turn finished within the grace.
    Finished,
    /// The grace ended first; the running turns were stopped and stored as interrupted.
    Stopped,
    /// Even the stopped turns did not finish within [`FINALIZE_WINDOW`]; this many were left.
    Abandoned(usize),
}

/// The running turn tasks of this process and their stop signal.
#[derive(Debug, Default)]
pub(super) struct TurnTasks {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl TurnTasks {
    /// Runs a turn as a tracked task.
    pub(super) fn spawn<F>(&self, turn: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(turn);
    }

    /// Fires when running turns must stop (the shutdown grace ended).
    pub(super) fn stop_signal(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Turns running now.
    pub(super) fn running(&self) -> usize {
        self.tracker.len()
    }

    /// Waits for every turn until `grace_ends`, then stops the rest and waits up to
    /// [`FINALIZE_WINDOW`] for them to store their interrupted answers.
    pub(super) async fn drain(&self, grace_ends: Instant) -> Drained {
        self.tracker.close();
        if tokio::time::timeout_at(grace_ends, self.tracker.wait())
            .await
            .is_ok()
        {
            return Drained::Finished;
        }
        tracing::warn!(
            running = self.tracker.len(),
            "shutdown grace ended; storing unfinished answers as interrupted"
        );
        self.stop.cancel();
        if tokio::time::timeout(FINALIZE_WINDOW, self.tracker.wait())
            .await
            .is_ok()
        {
            return Drained::Stopped;
        }
        Drained::Abandoned(self.tracker.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn turns_that_end_within_the_grace_are_waited_for() {
        let tasks = TurnTasks::default();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(3)));
        let drained = tasks.drain(Instant::now() + Duration::from_secs(10)).await;
        assert_eq!(drained, Drained::Finished);
        assert_eq!(tasks.running(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn turns_still_running_at_the_end_of_the_grace_are_told_to_stop() {
        let tasks = TurnTasks::default();
        let stop = tasks.stop_signal();
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stopped.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => seen.store(true, std::sync::atomic::Ordering::SeqCst),
                () = tokio::time::sleep(Duration::from_secs(600)) => {}
            }
        });
        let drained = tasks.drain(Instant::now() + Duration::from_secs(2)).await;
        assert_eq!(drained, Drained::Stopped);
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_that_ignores_the_stop_is_abandoned_after_the_finalize_window() {
        let tasks = TurnTasks::default();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(600)));
        let drained = tasks.drain(Instant::now() + Duration::from_secs(1)).await;
        assert_eq!(drained, Drained::Abandoned(1));
    }
}
