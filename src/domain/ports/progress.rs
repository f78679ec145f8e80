//! Port of the status tracker: where the progress of long-running work is written by workers
//! and read by whoever shows it (a frontend, an operator, the command line).

use async_trait::async_trait;

use crate::domain::progress::{ResourceProgress, Stage, StageStatus};

/// Progress of resources through their processing stages, shared by every worker and replica
/// that uses the same backend.
///
/// Progress is advisory: the work goes on whether or not it could be recorded. Hence no method
/// fails. A backend that cannot be reached degrades: writes are dropped (with a warning in the
/// log, not one per call) and reads answer the default state, every stage
/// [`StageStatus::Pending`].
///
/// Every record expires a set time (the adapter's TTL) after its resource was last written, so
/// finished or abandoned work does not pile up; an expired resource reads like one never seen.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ProgressTracker: Send + Sync + 'static {
    /// Records that `stage` of `resource` is now `status`, with an error detail for a failed
    /// stage (bounded by [`crate::domain::progress::bound_error`] before it is stored; `None`
    /// clears an earlier one). The other stages of the resource are kept, and its TTL starts
    /// again.
    ///
    /// Never fails the caller: a resource id that [`crate::domain::progress::validate_resource_id`]
    /// refuses, or a backend that does not answer within its timeout, drops the write and logs
    /// a warning.
    async fn set_progress<'a>(
        &self,
        resource: &str,
        stage: Stage,
        status: StageStatus,
        error: Option<&'a str>,
    );

    /// The progress of `resource`: every stage, and the overall status computed from them.
    ///
    /// A resource never seen, expired, unreadable, refused by
    /// [`crate::domain::progress::validate_resource_id`], or asked for while the backend cannot
    /// be reached answers [`ResourceProgress::pending`].
    async fn get_progress(&self, resource: &str) -> ResourceProgress;

    /// The progress of each of `resources` (a job's resources), in the same order, with the
    /// same defaults as [`ProgressTracker::get_progress`]. Adapters over a network backend
    /// SHOULD answer it in a few round trips, not one per resource.
    async fn get_many(&self, resources: &[String]) -> Vec<ResourceProgress> {
        let mut out = Vec::with_capacity(resources.len());
        for resource in resources {
            out.push(self.get_progress(resource).await);
        }
        out
    }
}
