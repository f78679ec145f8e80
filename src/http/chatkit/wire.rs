//! ChatKit wire types: responses and events exactly as the protocol document serialises them
//! (field order, omitted nulls, compact JSON). They also generate the response and event
//! schemas of the OpenAPI document (see [`super::schema`]); requests are in [`super::request`].

mod annotation;

pub use annotation::{Annotation, AnnotationType, EntitySourceType, LessonRef, LessonSource};

use chrono::{DateTime, Timelike, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::thread::{
    Citation, InferenceOptions, ItemKind, Page, Thread, ThreadItem, ThreadStatus, UserContent,
};

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

/// A page of rows, oldest or newest first as asked.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
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

/// An empty object, `{}`: the `metadata` of wire threads (server metadata is never sent) and
/// the answer of `threads.delete` and `items.feedback`.
#[derive(Debug, Serialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Empty")]
pub struct Empty {}

/// A thread as sent to clients; key order `title, id, created_at, status, metadata, items`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Thread")]
pub struct WireThread {
    /// Title, omitted when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Id.
    pub id: String,
    /// Creation time (UTC, RFC 3339; microseconds only when non-zero).
    #[schemars(extend("format" = "date-time"))]
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

    /// The same, taking the thread's strings instead of copying them.
    pub fn from_thread(thread: Thread, items: WirePage<WireItem>) -> Self {
        Self {
            created_at: datetime(&thread.created_at),
            title: thread.title,
            id: thread.id,
            status: thread.status,
            metadata: Empty {},
            items,
        }
    }
}

/// A part of a tutor message (`AssistantMessageContent`): key order `annotations, text, type`.
#[derive(Debug, Serialize, Clone, JsonSchema)]
#[schemars(rename = "OutputText")]
pub struct OutputText {
    /// The passages of the book the text cites (ask mode); empty otherwise.
    pub annotations: Vec<Annotation>,
    /// Markdown text.
    pub text: String,
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: OutputTextType,
}

/// The `type` of an [`OutputText`].
#[derive(Debug, Serialize, Clone, Copy, JsonSchema)]
#[schemars(rename = "OutputTextType")]
pub enum OutputTextType {
    /// Markdown text.
    #[serde(rename = "output_text")]
    OutputText,
}

impl OutputText {
    /// A content part with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            annotations: Vec::new(),
            text: text.into(),
            kind: OutputTextType::OutputText,
        }
    }

    /// A content part with `text` and its citations as annotations.
    pub fn cited(text: impl Into<String>, citations: &[Citation]) -> Self {
        Self {
            annotations: citations.iter().map(Annotation::of).collect(),
            ..Self::new(text)
        }
    }
}

/// An item of a thread as sent to clients: base fields `id, thread_id, created_at, type`
/// then the fields of its type.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Item")]
pub struct WireItem {
    /// Id.
    pub id: String,
    /// Thread.
    pub thread_id: String,
    /// Creation time (UTC, RFC 3339; microseconds only when non-zero).
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// Type and type-specific fields.
    #[serde(flatten)]
    pub body: WireItemBody,
}

/// Type-specific fields of a wire item.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireItemBody {
    /// A student message.
    UserMessage {
        /// Content parts as sent.
        content: Vec<UserContent>,
        /// Always empty.
        #[schemars(length(max = 0))]
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
            ItemKind::AssistantMessage {
                text, citations, ..
            } => WireItemBody::AssistantMessage {
                content: vec![OutputText::cited(text.clone(), citations)],
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

/// `update` of a `thread.item.updated` event: how a streaming tutor message changed.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ItemUpdate")]
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
    /// A citation was added to a part.
    #[serde(rename = "assistant_message.content_part.annotation_added")]
    AnnotationAdded {
        /// Part index.
        content_index: u32,
        /// Position of the annotation in the part's list.
        annotation_index: u32,
        /// The citation.
        annotation: Annotation,
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
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "StreamOptions")]
pub struct StreamOptions {
    /// Whether the client shows a stop button.
    pub allow_cancel: bool,
}

/// One server-sent event of a streaming operation (the JSON of one `data:` line).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Event")]
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
        /// `stream.error` (show a generic message) or `custom` (show `message`).
        code: ErrorCode,
        /// Shown verbatim for `custom`.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Whether the client offers a retry.
        allow_retry: bool,
    },
}

/// `code` of an `error` event.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(rename = "ErrorCode")]
pub enum ErrorCode {
    /// The turn failed; the client shows its own message.
    #[serde(rename = "stream.error")]
    StreamError,
    /// The turn failed with a message for the student.
    #[serde(rename = "custom")]
    Custom,
}

impl WireEvent {
    /// `data: {json}\n\n`.
    pub fn to_sse(&self) -> bytes::Bytes {
        let mut out = Vec::new();
        self.write_sse(&mut out);
        out.into()
    }

    /// Appends `data: {json}\n\n` to `out`: the event serialised once, straight from its
    /// typed fields.
    pub fn write_sse(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: ");
        let json = out.len();
        // Serialising these plain structs cannot fail; fall back to an error event regardless.
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.truncate(json);
            out.extend_from_slice(br#"{"type":"error","code":"stream.error","allow_retry":true}"#);
        }
        out.extend_from_slice(b"\n\n");
    }
}
