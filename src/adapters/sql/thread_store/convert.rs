//! Translation between domain values and rows: exact microsecond instants, JSON payloads and
//! the short names stored in `kind` columns.

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};

use super::entities::{item, thread};
use crate::domain::ports::StoreError;
use crate::domain::teach::StudyState;
use crate::domain::thread::{FeedbackKind, ItemKind, Thread, ThreadItem, ThreadStatus};

/// Microseconds since the Unix epoch; anything finer than a microsecond is dropped.
pub(super) fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The instant `micros` microseconds after the Unix epoch.
pub(in crate::adapters::sql) fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    super::super::txn::instant(micros, "a stored row")
}

/// The `kind` column of an item.
pub(super) fn kind_name(kind: &ItemKind) -> &'static str {
    match kind {
        ItemKind::UserMessage { .. } => "user_message",
        ItemKind::AssistantMessage { .. } => "assistant_message",
        ItemKind::HiddenContext { .. } => "hidden_context",
    }
}

/// The `kind` column of a rating.
pub(super) fn feedback_name(kind: FeedbackKind) -> &'static str {
    match kind {
        FeedbackKind::Positive => "positive",
        FeedbackKind::Negative => "negative",
    }
}

/// A rating read back from its `kind` column.
pub(in crate::adapters::sql) fn feedback_from_name(name: &str) -> Result<FeedbackKind, StoreError> {
    [FeedbackKind::Positive, FeedbackKind::Negative]
        .into_iter()
        .find(|k| feedback_name(*k) == name)
        .ok_or_else(|| StoreError::Unexpected(anyhow!("stored rating {name:?} is unknown")))
}

fn unexpected(err: serde_json::Error, what: &'static str) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(err).context(what))
}

/// The `status` column of a thread.
pub(super) fn status_text(status: &ThreadStatus) -> Result<String, StoreError> {
    serde_json::to_string(status).map_err(|e| unexpected(e, "serialize thread status"))
}

/// The `payload` column of an item.
pub(super) fn payload(kind: &ItemKind) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(kind).map_err(|e| unexpected(e, "serialize item"))
}

/// The `state` column of a study state.
pub(super) fn state_json(state: &StudyState) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(state).map_err(|e| unexpected(e, "serialize study state"))
}

/// A study state read back from its `state` column.
pub(in crate::adapters::sql) fn state_from_json(
    json: serde_json::Value,
) -> Result<StudyState, StoreError> {
    serde_json::from_value(json).map_err(|e| unexpected(e, "deserialize study state"))
}

/// A thread read back from its row.
pub(in crate::adapters::sql) fn thread_from_row(row: thread::Model) -> Result<Thread, StoreError> {
    let status = serde_json::from_str(&row.status)
        .with_context(|| format!("deserialize status of thread {}", row.id))?;
    Ok(Thread {
        created_at: from_micros(row.created_at)?,
        id: row.id,
        user_id: row.user_id,
        organization_id: row.organization_id,
        title: row.title,
        status,
        metadata: row.metadata,
    })
}

/// An item read back from its row.
pub(in crate::adapters::sql) fn item_from_row(row: item::Model) -> Result<ThreadItem, StoreError> {
    let kind = serde_json::from_value(row.payload)
        .with_context(|| format!("deserialize item {}", row.id))?;
    Ok(ThreadItem {
        created_at: from_micros(row.created_at)?,
        id: row.id,
        thread_id: row.thread_id,
        kind,
    })
}
