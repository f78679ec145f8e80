//! Wire types of the operator endpoints: purge answers and webhook acknowledgements.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

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

/// A webhook delivery that required nothing.
#[derive(Debug, Object)]
pub struct IgnoredOut {
    /// `ignored`, or `duplicate` for a delivery already acted on (a replay).
    pub status: String,
}

/// A purge was done.
#[derive(ApiResponse)]
pub enum PurgeResponse {
    /// The purged paths.
    #[oai(status = 200)]
    Ok(Json<PurgeOut>),
}

/// A webhook delivery was accepted.
#[derive(ApiResponse)]
pub enum WebhookResponse {
    /// A push to the book's branch: the lessons it touched were purged.
    #[oai(status = 200)]
    Purged(Json<PurgeOut>),
    /// Another event, a push to another repository or branch, or a delivery already acted on
    /// (`duplicate`): nothing to do.
    #[oai(status = 202)]
    Ignored(Json<IgnoredOut>),
}

impl WebhookResponse {
    /// `202 {"status":"ignored"}`.
    pub fn ignored() -> Self {
        Self::Ignored(Json(IgnoredOut {
            status: "ignored".into(),
        }))
    }

    /// `202 {"status":"duplicate"}`: this delivery was already acted on.
    pub fn duplicate() -> Self {
        Self::Ignored(Json(IgnoredOut {
            status: "duplicate".into(),
        }))
    }
}
