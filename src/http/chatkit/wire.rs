//! ChatKit wire types: requests as the client sends them and responses/events exactly as the
//! protocol document serialises them (field order, omitted nulls, compact JSON).

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::thread::{
    FeedbackKind, InferenceOptions, ItemKind, Order, Page, Thread, ThreadItem, ThreadStatus,
    UserContent,
};

// ---------------------------------------------------------------- requests

/// The envelope every request shares; `params` is parsed per operation.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Operation name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Operation parameters (required by the protocol, even when empty).
    pub params: Option<serde_json::Value>,
    /// Integration metadata: never stored or used, but bounded like every client field.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// `input` of `threads.create` and `threads.add_user_message`.
#[derive(Debug, Deserialize)]
pub struct UserMessageInput {
    /// Content parts (`input_text` / `input_tag`).
    pub content: Vec<UserContent>,
    /// Attachment ids (required key; this service supports none).
    pub attachments: Vec<String>,
    /// Reply-to-selection text.
    #[serde(default)]
    pub quoted_text: Option<String>,
    /// Options; `model` selects the study mode.
    pub inference_options: InferenceOptions,
}

/// `threads.create`.
#[derive(Debug, Deserialize)]
pub struct CreateParams {
    /// The first message.
    pub input: UserMessageInput,
}

/// `threads.add_user_message`.
#[derive(Debug, Deserialize)]
pub struct AddMessageParams {
    /// Thread.
    pub thread_id: String,
    /// The message.
    pub input: UserMessageInput,
}

/// Operations that only name a thread.
#[derive(Debug, Deserialize)]
pub struct ThreadParams {
    /// Thread.
    pub thread_id: String,
}

/// `threads.update`.
#[derive(Debug, Deserialize)]
pub struct UpdateParams {
    /// Thread.
    pub thread_id: String,
    /// New title (required, not null).
    pub title: String,
}

/// `threads.list`.
#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    /// Page size; absent, null and 0 mean 20.
    #[serde(default)]
    pub limit: Option<serde_json::Value>,
    /// Sort order (default desc).
    #[serde(default)]
    pub order: Option<Order>,
    /// Exclusive cursor: the `after` of the previous page (opaque, survives deletion of the row
    /// it stops at), or the older form, the id of the last row the client has.
    #[serde(default)]
    pub after: Option<String>,
}

/// `items.list`.
#[derive(Debug, Deserialize)]
pub struct ItemsListParams {
    /// Thread.
    pub thread_id: String,
    /// Paging, as for `threads.list`.
    #[serde(flatten)]
    pub page: ListParams,
}

/// `items.feedback`.
#[derive(Debug, Deserialize)]
pub struct FeedbackParams {
    /// Thread.
    pub thread_id: String,
    /// Rated items.
    pub item_ids: Vec<String>,
    /// Rating.
    pub kind: FeedbackKind,
}

/// `threads.retry_after_item`.
#[derive(Debug, Deserialize)]
pub struct RetryParams {
    /// Thread.
    pub thread_id: String,
    /// The user message to answer again.
    pub item_id: String,
}

// --------------------------------------------------------------- responses

/// Protocol datetime: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (micro-seconds only when non-zero).
pub fn datetime(at: &DateTime<Utc>) -> String {
    if at.nanosecond() / 1_000 == 0 {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!(
            "{}.{:06}Z",
            at.format("%Y-%m-%dT%H:%M:%S"),
            at.nanosecond() / 1_000 % 1_000_000
        )
    }
}

/// A page as sent to clients.
#[derive(Debug, Serialize)]
pub struct WirePage<T> {
    /// Rows.
    pub data: Vec<T>,
    /// More rows exist.
    pub has_more: bool,
    /// Opaque cursor for the next page, only when `has_more`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl<T> WirePage<T> {
    /// An empty page.
    pub fn empty() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            after: None,
        }
    }

    /// Converts a domain page.
    pub fn from_page<U>(page: Page<U>, f: impl Fn(U) -> Option<T>) -> Self {
        Self {
            data: page.data.into_iter().filter_map(f).collect(),
            has_more: page.has_more,
            after: page.after,
        }
    }
}

/// The always-empty `metadata` of wire threads (server metadata is never sent).
#[derive(Debug, Serialize, Default)]
pub struct Empty {}

/// A thread as sent to clients; key order `title, id, created_at, status, metadata, items`.
#[derive(Debug, Serialize)]
pub struct WireThread {
    /// Title, omitted when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Id.
    pub id: String,
    /// Creation time.
    pub created_at: String,
    /// Status.
    pub status: ThreadStatus,
    /// Always `{}`.
    pub metadata: Empty,
    /// Items page (empty in events, lists and updates).
    pub items: WirePage<WireItem>,
}

impl WireThread {
    /// A wire thread with the given items page.
    pub fn new(thread: &Thread, items: WirePage<WireItem>) -> Self {
        Self {
            title: thread.title.clone(),
            id: thread.id.clone(),
            created_at: datetime(&thread.created_at),
            status: thread.status.clone(),
            metadata: Empty {},
            items,
        }
    }
}

/// `AssistantMessageContent`: key order `annotations, text, type`.
#[derive(Debug, Serialize, Clone)]
pub struct OutputText {
    /// Always empty: the tutor cites nothing inline.
    pub annotations: Vec<serde_json::Value>,
    /// Markdown text.
    pub text: String,
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl OutputText {
    /// A content part with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            annotations: Vec::new(),
            text: text.into(),
            kind: "output_text",
        }
    }
}

/// An item as sent to clients: base fields `id, thread_id, created_at, type` then the body.
#[derive(Debug, Serialize)]
pub struct WireItem {
    /// Id.
    pub id: String,
    /// Thread.
    pub thread_id: String,
    /// Creation time.
    pub created_at: String,
    /// Type and type-specific fields.
    #[serde(flatten)]
    pub body: WireItemBody,
}

/// Type-specific fields of a wire item.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireItemBody {
    /// A student message.
    UserMessage {
        /// Content parts as sent.
        content: Vec<UserContent>,
        /// Always empty.
        attachments: Vec<serde_json::Value>,
        /// Reply-to text.
        #[serde(skip_serializing_if = "Option::is_none")]
        quoted_text: Option<String>,
        /// Options as sent.
        inference_options: InferenceOptions,
    },
    /// A tutor message.
    AssistantMessage {
        /// One `output_text` part.
        content: Vec<OutputText>,
    },
}

impl WireItem {
    /// The wire form of a visible item; `None` for items clients never see.
    pub fn from_item(item: &ThreadItem) -> Option<Self> {
        let body = match &item.kind {
            ItemKind::UserMessage {
                content,
                quoted_text,
                inference_options,
                hidden: false,
            } => WireItemBody::UserMessage {
                content: content.clone(),
                attachments: Vec::new(),
                quoted_text: quoted_text.clone(),
                inference_options: inference_options.clone(),
            },
            ItemKind::AssistantMessage { text, .. } => WireItemBody::AssistantMessage {
                content: vec![OutputText::new(text.clone())],
            },
            _ => return None,
        };
        Some(Self {
            id: item.id.clone(),
            thread_id: item.thread_id.clone(),
            created_at: datetime(&item.created_at),
            body,
        })
    }
}

/// `update` of a `thread.item.updated` event.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum WireUpdate {
    /// A content part starts.
    #[serde(rename = "assistant_message.content_part.added")]
    PartAdded {
        /// Part index.
        content_index: u32,
        /// The empty part.
        content: OutputText,
    },
    /// Text appended to a part.
    #[serde(rename = "assistant_message.content_part.text_delta")]
    TextDelta {
        /// Part index.
        content_index: u32,
        /// Text, whitespace exact.
        delta: String,
    },
    /// A part is complete.
    #[serde(rename = "assistant_message.content_part.done")]
    PartDone {
        /// Part index.
        content_index: u32,
        /// Final part.
        content: OutputText,
    },
}

/// `stream_options` payload.
#[derive(Debug, Serialize)]
pub struct StreamOptions {
    /// Whether the client shows a stop button.
    pub allow_cancel: bool,
}

/// One server-sent event of a streaming operation.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum WireEvent {
    /// A thread was created.
    #[serde(rename = "thread.created")]
    ThreadCreated {
        /// The thread, empty items.
        thread: WireThread,
    },
    /// A thread changed (title).
    #[serde(rename = "thread.updated")]
    ThreadUpdated {
        /// The thread, empty items.
        thread: WireThread,
    },
    /// An item starts streaming.
    #[serde(rename = "thread.item.added")]
    ItemAdded {
        /// The item so far.
        item: WireItem,
    },
    /// An item changed.
    #[serde(rename = "thread.item.updated")]
    ItemUpdated {
        /// Item id.
        item_id: String,
        /// The change.
        update: WireUpdate,
    },
    /// An item is complete and stored.
    #[serde(rename = "thread.item.done")]
    ItemDone {
        /// The item.
        item: WireItem,
    },
    /// Stream capabilities.
    #[serde(rename = "stream_options")]
    StreamOptions {
        /// Options.
        stream_options: StreamOptions,
    },
    /// The turn failed.
    #[serde(rename = "error")]
    Error {
        /// `stream.error` or `custom`.
        code: &'static str,
        /// Shown verbatim for `custom`.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Whether the client offers a retry.
        allow_retry: bool,
    },
}

impl WireEvent {
    /// `data: {json}\n\n`.
    pub fn to_sse(&self) -> bytes::Bytes {
        let mut out = b"data: ".to_vec();
        // Serialising these plain structs cannot fail; fall back to an error event regardless.
        match serde_json::to_writer(&mut out, self) {
            Ok(()) => {}
            Err(_) => out
                .extend_from_slice(br#"{"type":"error","code":"stream.error","allow_retry":true}"#),
        }
        out.extend_from_slice(b"\n\n");
        out.into()
    }
}
