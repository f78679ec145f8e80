//! Progress of long-running work on one resource (a lesson of the book), stage by stage: the
//! seed's status tracker (seed 003, requirement 9).
//!
//! A resource goes through the [`Stage`]s in order; each stage is [`StageStatus::Pending`] until
//! a worker says otherwise. The overall status of a resource is never stored: it is computed from
//! its stages by [`overall_status`], so it cannot disagree with them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest resource id accepted, in characters (a lesson path is far shorter).
pub const MAX_RESOURCE_ID_CHARS: usize = 300;

/// Longest error detail kept for a stage, in characters; longer details are cut.
pub const MAX_ERROR_CHARS: usize = 500;

/// A processing stage of a resource, in pipeline order.
///
/// Its name ([`Stage::as_str`], also its serde name) is stable: stores use it as a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The lesson is listed, fetched and stored.
    Ingestion,
    /// The lesson is checked for the problems an author must fix.
    Quality,
    /// The lesson is placed in the table of contents.
    Taxonomy,
    /// The lesson's links to other lessons are recorded.
    Graph,
    /// The lesson's sections are indexed for search.
    Embedding,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Self; 5] = [
        Self::Ingestion,
        Self::Quality,
        Self::Taxonomy,
        Self::Graph,
        Self::Embedding,
    ];

    /// The stable lowercase name (`ingestion`, `quality`, `taxonomy`, `graph`, `embedding`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingestion => "ingestion",
            Self::Quality => "quality",
            Self::Taxonomy => "taxonomy",
            Self::Graph => "graph",
            Self::Embedding => "embedding",
        }
    }

    /// The stage named `name` ([`Stage::as_str`]); `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one stage of a resource stands (serde names as in the seed: `PENDING`, …).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StageStatus {
    /// Not started (also what an unknown or expired resource reports).
    #[default]
    Pending,
    /// Under way.
    Processing,
    /// Done.
    Completed,
    /// Given up on; the stage's error says why.
    Failed,
    /// Not needed for this resource (e.g. no embeddings model is configured).
    Skipped,
}

impl StageStatus {
    /// The seed's name (`PENDING`, `PROCESSING`, `COMPLETED`, `FAILED`, `SKIPPED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// The status named `name` ([`StageStatus::as_str`]); `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Processing,
            Self::Completed,
            Self::Failed,
            Self::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether the stage is over without failing (completed or skipped).
    pub fn is_done(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped)
    }
}

impl fmt::Display for StageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stage of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageProgress {
    /// Where the stage stands.
    pub status: StageStatus,
    /// What went wrong, for a failed stage: at most [`MAX_ERROR_CHARS`] characters, no control
    /// characters (see [`bound_error`]).
    pub error: Option<String>,
    /// When the stage was last set; `None` while it never was.
    pub updated_at: Option<DateTime<Utc>>,
}

impl StageProgress {
    /// A stage set to `status` at `at`, with `error` bounded by [`bound_error`].
    pub fn new(status: StageStatus, error: Option<&str>, at: DateTime<Utc>) -> Self {
        Self {
            status,
            error: error.and_then(bound_error),
            updated_at: Some(at),
        }
    }
}

/// The progress of one resource: every stage, and the overall status computed from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceProgress {
    resource_id: String,
    #[serde(rename = "overall_status")]
    overall: StageStatus,
    stages: BTreeMap<Stage, StageProgress>,
    updated_at: Option<DateTime<Utc>>,
}

impl ResourceProgress {
    /// What a resource never seen (or expired, or unreadable) reports: every stage pending.
    pub fn pending(resource_id: &str) -> Self {
        Self::from_stages(resource_id, [])
    }

    /// The progress of `resource_id` from the stages known of it; a stage not given is pending.
    pub fn from_stages(
        resource_id: &str,
        known: impl IntoIterator<Item = (Stage, StageProgress)>,
    ) -> Self {
        let mut stages: BTreeMap<Stage, StageProgress> = Stage::ALL
            .into_iter()
            .map(|s| (s, StageProgress::default()))
            .collect();
        stages.extend(known);
        let overall = overall_status(stages.values().map(|s| s.status));
        let updated_at = stages.values().filter_map(|s| s.updated_at).max();
        Self {
            resource_id: resource_id.to_string(),
            overall,
            stages,
            updated_at,
        }
    }

    /// The resource's id.
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// The overall status, computed from the stages by [`overall_status`].
    pub fn overall(&self) -> StageStatus {
        self.overall
    }

    /// Every stage (all of [`Stage::ALL`], in pipeline order).
    pub fn stages(&self) -> &BTreeMap<Stage, StageProgress> {
        &self.stages
    }

    /// One stage.
    pub fn stage(&self, stage: Stage) -> &StageProgress {
        // Every stage is present by construction.
        &self.stages[&stage]
    }

    /// When any stage was last set; `None` while none was.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }
}

/// The overall status of a resource from its stages' statuses:
/// any failed stage → `FAILED`; every stage completed or skipped → `COMPLETED`; a stage under
/// way, or some stages done while others still wait → `PROCESSING`; otherwise (nothing started)
/// → `PENDING`. No stages at all count as nothing started.
pub fn overall_status(statuses: impl IntoIterator<Item = StageStatus>) -> StageStatus {
    let (mut any, mut all_done, mut any_done, mut any_processing) = (false, true, false, false);
    for status in statuses {
        any = true;
        match status {
            StageStatus::Failed => return StageStatus::Failed,
            StageStatus::Processing => any_processing = true,
            s if s.is_done() => any_done = true,
            _ => {}
        }
        all_done &= status.is_done();
    }
    if any && all_done {
        StageStatus::Completed
    } else if any_processing || any_done {
        StageStatus::Processing
    } else {
        StageStatus::Pending
    }
}

/// Why a resource id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceIdError {
    /// The id is empty.
    #[error("resource id is empty")]
    Empty,
    /// The id is longer than [`MAX_RESOURCE_ID_CHARS`] characters.
    #[error("resource id longer than {MAX_RESOURCE_ID_CHARS} characters")]
    TooLong,
    /// The id holds a control character.
    #[error("resource id holds a control character")]
    ControlCharacter,
}

/// Checks a resource id before it is stored: 1 to [`MAX_RESOURCE_ID_CHARS`] characters, no
/// control character. Adapters call it on every operation.
///
/// # Errors
/// [`ResourceIdError`] saying which rule the id breaks.
pub fn validate_resource_id(id: &str) -> Result<(), ResourceIdError> {
    if id.is_empty() {
        return Err(ResourceIdError::Empty);
    }
    if id.chars().nth(MAX_RESOURCE_ID_CHARS).is_some() {
        return Err(ResourceIdError::TooLong);
    }
    if id.chars().any(char::is_control) {
        return Err(ResourceIdError::ControlCharacter);
    }
    Ok(())
}

/// An error detail as it is kept: control characters (line breaks included) become spaces,
/// surrounding space is trimmed, and a text past [`MAX_ERROR_CHARS`] characters is cut and ends
/// with `…`. `None` when nothing is left.
pub fn bound_error(detail: &str) -> Option<String> {
    let cleaned: String = detail
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().nth(MAX_ERROR_CHARS).is_none() {
        return Some(trimmed.to_string());
    }
    let mut cut: String = trimmed.chars().take(MAX_ERROR_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    Some(cut)
}

#[cfg(test)]
mod tests;
