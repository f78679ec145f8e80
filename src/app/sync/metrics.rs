//! `study_job_tasks_total{task, outcome}` and `study_job_retries_total{task}`: what came of each
//! try of a book-sync task, counted by the process whose worker ran it. Both labels come from
//! closed sets; every valid pair exists at zero from the start, so `rate()` and the dead-letter
//! alert see them before the first sync.
//!
//! A try cut short by `JOB_TIMEOUT_SECS`, a panic or a stop never reaches the handler: it counts
//! as a retry when it is tried again, and `study_jobs{state="dead"}` counts every dead task.

use prometheus::{IntCounterVec, Opts, Registry};

/// The kind of task (the `task` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Lists a run's lessons and queues one task each.
    List,
    /// Syncs one lesson through every stage.
    Lesson,
}

impl TaskKind {
    const ALL: [Self; 2] = [Self::List, Self::Lesson];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Lesson => "lesson",
        }
    }

    /// The outcomes a try of this kind can end with.
    fn outcomes(self) -> &'static [TaskOutcome] {
        match self {
            Self::List => &[
                TaskOutcome::Listed,
                TaskOutcome::Retrying,
                TaskOutcome::Dead,
            ],
            Self::Lesson => &[
                TaskOutcome::Synced,
                TaskOutcome::Unchanged,
                TaskOutcome::Removed,
                TaskOutcome::Retrying,
                TaskOutcome::Dead,
            ],
        }
    }
}

/// How one try of a task ended (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The book was listed and its lesson tasks queued.
    Listed,
    /// The lesson was fetched, checked, placed and indexed.
    Synced,
    /// The source had the version already synced: nothing downloaded.
    Unchanged,
    /// The source no longer has the lesson: removed from the book.
    Removed,
    /// The try failed; the task will be tried again.
    Retrying,
    /// The last try failed (`JOB_MAX_ATTEMPTS`): the task is dead until retried by hand.
    Dead,
}

impl TaskOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listed => "listed",
            Self::Synced => "synced",
            Self::Unchanged => "unchanged",
            Self::Removed => "removed",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
        }
    }
}

/// The job outcome counters (cheap to clone: the counters are shared).
#[derive(Clone)]
pub struct JobMetrics {
    tasks: IntCounterVec,
    retries: IntCounterVec,
}

impl JobMetrics {
    /// The counters, registered on `registry` when given.
    ///
    /// # Panics
    /// Never in practice: the definitions are static.
    pub fn new(registry: Option<&Registry>) -> Self {
        let tasks = IntCounterVec::new(
            Opts::new(
                "study_job_tasks_total",
                "Tries of book-sync tasks by task (list, lesson) and outcome (listed, synced, \
                 unchanged, removed, retrying, dead)",
            ),
            &["task", "outcome"],
        )
        .expect("static counter definition is valid");
        let retries = IntCounterVec::new(
            Opts::new(
                "study_job_retries_total",
                "Tries of book-sync tasks that were retries of a failed try, by task",
            ),
            &["task"],
        )
        .expect("static counter definition is valid");
        for task in TaskKind::ALL {
            retries.with_label_values(&[task.as_str()]);
            for outcome in task.outcomes() {
                tasks.with_label_values(&[task.as_str(), outcome.as_str()]);
            }
        }
        if let Some(registry) = registry {
            for counter in [&tasks, &retries] {
                if let Err(e) = registry.register(Box::new(counter.clone())) {
                    tracing::warn!(error = %e, "a job outcome counter was not registered");
                }
            }
        }
        Self { tasks, retries }
    }

    /// A try of a `task` began; `number` counts from 1, so any later one is a retry.
    pub fn try_started(&self, task: TaskKind, number: u32) {
        if number > 1 {
            self.retries.with_label_values(&[task.as_str()]).inc();
        }
    }

    /// A try of a `task` ended with `outcome`.
    pub fn try_ended(&self, task: TaskKind, outcome: TaskOutcome) {
        self.tasks
            .with_label_values(&[task.as_str(), outcome.as_str()])
            .inc();
    }

    /// Tries counted with `outcome` (tests).
    pub fn count(&self, task: TaskKind, outcome: TaskOutcome) -> u64 {
        self.tasks
            .with_label_values(&[task.as_str(), outcome.as_str()])
            .get()
    }
}

impl Default for JobMetrics {
    /// Counters no registry exposes.
    fn default() -> Self {
        Self::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valid_task_and_outcome_pair_exists_at_zero_and_retries_count_later_tries() {
        let registry = Registry::new();
        let metrics = JobMetrics::new(Some(&registry));
        metrics.try_started(TaskKind::Lesson, 1);
        metrics.try_started(TaskKind::Lesson, 2);
        metrics.try_ended(TaskKind::Lesson, TaskOutcome::Dead);
        let families = registry.gather();
        let family = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .unwrap_or_else(|| panic!("{name} registered"))
        };
        // list: listed, retrying, dead; lesson: synced, unchanged, removed, retrying, dead.
        assert_eq!(family("study_job_tasks_total").get_metric().len(), 8);
        assert_eq!(family("study_job_retries_total").get_metric().len(), 2);
        assert_eq!(metrics.count(TaskKind::Lesson, TaskOutcome::Dead), 1);
        assert_eq!(metrics.retries.with_label_values(&["lesson"]).get(), 1);
        assert_eq!(metrics.retries.with_label_values(&["list"]).get(), 0);
    }
}
