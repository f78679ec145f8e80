//! Wire types of the operator endpoints: purge answers and webhook acknowledgements.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};

use crate::domain::lesson::LessonPath;

/// How many purged paths an answer lists.
pub const LISTED_PATHS: usize = 20;

/// The outcome of a purge (the old service's contract).
#[derive(Debug, Object)]
pub struct PurgeOut {
    /// Always `ok`.
    pub status: String,
    /// Cache entries purged.
    pub invalidated_count: u64,
    /// The first 20 purged lesson paths; empty for "everything".
    pub paths: Vec<String>,
}

impl PurgeOut {
    /// The answer for a purge of `paths` (empty: everything) that removed `count` entries.
    pub fn new(count: u64, paths: &[LessonPath]) -> Self {
        Self {
            status: "ok".into(),
            invalidated_count: count,
            paths: paths
                .iter()
                .take(LISTED_PATHS)
                .map(|p| p.as_str().to_string())
                .collect(),
        }
    }
}

/// What a webhook delivery led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum WebhookStatus {
    /// A push to the book's branch: the lessons it touched were purged.
    Ok,
    /// Another event, or a push to another repository or branch: nothing to do.
    Ignored,
    /// A delivery already acted on (a replay): nothing done again.
    Duplicate,
}

/// The answer to a webhook delivery.
#[derive(Debug, Object)]
pub struct WebhookOut {
    /// What the delivery led to.
    pub status: WebhookStatus,
    /// Cache entries purged (0 unless `ok`).
    pub invalidated_count: u64,
    /// The first 20 purged lesson paths; empty for "everything" and unless `ok`.
    pub paths: Vec<String>,
    /// The book sync the push queued (the touched lessons, or the whole book when lessons
    /// were added or removed); follow it at `GET /v1/jobs/{id}`. Absent when none was.
    #[oai(skip_serializing_if_is_none)]
    pub sync_job_id: Option<String>,
}

/// A purge was done.
#[derive(ApiResponse)]
pub enum PurgeResponse {
    /// The purged paths.
    #[oai(status = 200)]
    Ok(Json<PurgeOut>),
}

/// A webhook delivery was accepted (whatever it led to: GitHub only needs a 2xx).
#[derive(ApiResponse)]
pub enum WebhookResponse {
    /// What the delivery led to.
    #[oai(status = 200)]
    Done(Json<WebhookOut>),
}

impl WebhookResponse {
    fn nothing(status: WebhookStatus) -> Self {
        Self::Done(Json(WebhookOut {
            status,
            invalidated_count: 0,
            paths: Vec::new(),
            sync_job_id: None,
        }))
    }

    /// `{"status":"ignored",…}`: nothing to do.
    pub fn ignored() -> Self {
        Self::nothing(WebhookStatus::Ignored)
    }

    /// `{"status":"duplicate",…}`: this delivery was already acted on.
    pub fn duplicate() -> Self {
        Self::nothing(WebhookStatus::Duplicate)
    }

    /// `{"status":"ok",…}`: the purge of a push.
    pub fn purged(out: PurgeOut, sync_job_id: Option<String>) -> Self {
        Self::Done(Json(WebhookOut {
            status: WebhookStatus::Ok,
            invalidated_count: out.invalidated_count,
            paths: out.paths,
            sync_job_id,
        }))
    }
}
