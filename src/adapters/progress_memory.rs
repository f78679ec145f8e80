//! Outbound adapter: ProgressTracker in process memory (moka) — the embedded default, when no
//! Redis is configured; progress is then seen by this process only.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ports::ProgressTracker;
use crate::domain::progress::{
    ResourceProgress, Stage, StageProgress, StageStatus, validate_resource_id,
};

/// The stages set so far of one resource.
type Stages = BTreeMap<Stage, StageProgress>;

/// A bounded in-process progress tracker.
#[derive(Clone)]
pub struct MemoryProgressTracker {
    records: moka::sync::Cache<String, Stages>,
    ttl: Duration,
}

impl std::fmt::Debug for MemoryProgressTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryProgressTracker")
            .field("ttl", &self.ttl)
            .field("resources", &self.records.entry_count())
            .finish()
    }
}

impl MemoryProgressTracker {
    /// At most `capacity` resources (the least recently used go first beyond it); each record
    /// expires `ttl` after its resource was last set.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            records: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            ttl,
        }
    }
}

#[async_trait]
impl ProgressTracker for MemoryProgressTracker {
    async fn set_progress<'a>(
        &self,
        resource: &str,
        stage: Stage,
        status: StageStatus,
        error: Option<&'a str>,
    ) {
        if let Err(e) = validate_resource_id(resource) {
            tracing::warn!(reason = %e, stage = %stage, "progress not recorded");
            return;
        }
        let now = chrono::Utc::now();
        // One writer at a time per resource: concurrent stages of one resource all land.
        self.records
            .entry(resource.to_string())
            .and_upsert_with(|old| {
                let mut stages = old.map(moka::Entry::into_value).unwrap_or_default();
                stages.insert(stage, StageProgress::new(status, error, now));
                stages
            });
    }

    async fn get_progress(&self, resource: &str) -> ResourceProgress {
        if validate_resource_id(resource).is_err() {
            return ResourceProgress::pending(resource);
        }
        match self.records.get(resource) {
            Some(stages) => ResourceProgress::from_stages(resource, stages),
            None => ResourceProgress::pending(resource),
        }
    }
}
