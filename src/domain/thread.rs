//! Study threads and their items: the durable record of a tutoring conversation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Maximum number of items or threads a single page may return.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A conversation between one student and the tutor about one lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// `thr_…` id: 128-bit and time-ordered.
    pub id: String,
    /// Owner; every store call is scoped by it.
    pub user_id: String,
    /// Tenant recorded on every row.
    pub organization_id: Option<String>,
    /// Human-readable title, if one was set or derived.
    pub title: Option<String>,
    /// Creation instant (page key, with `id`).
    pub created_at: DateTime<Utc>,
    /// Arbitrary JSON metadata from the protocol.
    pub metadata: serde_json::Value,
}

/// Sort order of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the protocol's default).
    #[default]
    Desc,
}

/// A keyset page request on `(created_at, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size, 1..=[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// Id of the last row of the previous page.
    pub after: Option<String>,
    /// Sort order.
    pub order: Order,
}

/// A page of results with the protocol's `has_more` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub data: Vec<T>,
    /// Whether another page follows.
    pub has_more: bool,
    /// Id of the last row, to pass as `after`.
    pub after: Option<String>,
}
