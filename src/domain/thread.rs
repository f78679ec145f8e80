//! Study threads and their items: the durable record of a tutoring conversation.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::bounds::{MAX_OPTION_CHARS, MAX_TAG_GROUP_CHARS, MAX_TAG_ID_CHARS};

/// Longest text of one content part: a message has at most this many characters in all
/// (`app::study::MAX_MESSAGE_CHARS`, checked on the whole message; a test pins the two equal).
pub const MAX_PART_CHARS: usize = 8_000;
/// A label's characters in a schema: no control characters (`bounds::check_label`).
pub const LABEL_PATTERN: &str = "^[^\\x00-\\x1F\\x7F-\\x9F]*$";
/// A free text's characters in a schema: anything but NUL (`bounds::check_text`).
pub const TEXT_PATTERN: &str = "^[^\\x00]*$";
/// A title in a schema: a label with at least one character that is not white space
/// (`rename_thread` trims Unicode `White_Space`, then checks it).
pub const TITLE_PATTERN: &str = concat!(
    "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\x00-\\x1F\\x7F-\\x9F",
    crate::domain::bounds::white_space_chars!(),
    "][^\\x00-\\x1F\\x7F-\\x9F]*$"
);

/// Default page size of the protocol (`limit` absent, null or 0).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Maximum number of items or threads a single page may return.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Advisory UI state of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ThreadStatus {
    /// Open for messages.
    #[default]
    Active,
    /// Composer disabled, with an optional reason.
    Locked {
        /// Shown as placeholder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Composer replaced by a banner.
    Closed {
        /// Banner text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A conversation between one student and the tutor about one lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// `thr_` + 32 hex digits of a UUIDv7: 128-bit and time-ordered.
    pub id: String,
    /// Owner; every store call is scoped by it.
    pub user_id: String,
    /// Tenant recorded on every row.
    pub organization_id: Option<String>,
    /// Human-readable title, once set or derived.
    pub title: Option<String>,
    /// Advisory status.
    pub status: ThreadStatus,
    /// Creation instant (page key, with `id`), microsecond precision.
    pub created_at: DateTime<Utc>,
    /// Server-only metadata (lesson path, mode); never sent to clients.
    pub metadata: serde_json::Value,
}

/// One piece of a user message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserContent {
    /// Plain text.
    InputText {
        /// The text, exactly as typed (no NUL).
        #[schemars(length(max = MAX_PART_CHARS), pattern(TEXT_PATTERN))]
        text: String,
    },
    /// A tagged entity the client inserted.
    InputTag {
        /// Entity id, at most 256 characters, no control characters.
        #[schemars(length(max = MAX_TAG_ID_CHARS), pattern(LABEL_PATTERN))]
        id: String,
        /// Display text (no NUL).
        #[schemars(length(max = MAX_PART_CHARS), pattern(TEXT_PATTERN))]
        text: String,
        /// Free-form data, at most 4 KiB as JSON, no NUL in any string.
        data: serde_json::Value,
        /// Group label, at most 100 characters, no control characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = MAX_TAG_GROUP_CHARS), pattern(LABEL_PATTERN))]
        group: Option<String>,
        /// Whether the tag is clickable.
        #[serde(default)]
        interactive: bool,
    },
}

/// Options the client attached to a message (`model` selects the study mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
pub struct InferenceOptions {
    /// Tool the client asked for, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// `teach` or `ask` in this product (any other value means `teach`); at most 64
    /// characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_OPTION_CHARS), pattern(LABEL_PATTERN))]
    pub model: Option<String>,
}

/// A tool choice by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ToolChoice {
    /// Tool id, at most 64 characters, no control characters.
    #[schemars(length(max = MAX_OPTION_CHARS), pattern(LABEL_PATTERN))]
    pub id: String,
}

/// A passage of the book a tutor message cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// Lesson path.
    pub path: String,
    /// Lesson title.
    pub lesson_title: String,
    /// Section position in the lesson (0-based).
    pub section_index: u32,
    /// Section heading.
    pub section_title: String,
    /// Character offset in the message text where the citation stood; `None`: the citation is
    /// listed without an inline anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// What an item is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemKind {
    /// The student's message.
    UserMessage {
        /// Content parts.
        content: Vec<UserContent>,
        /// Reply-to-selection text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quoted_text: Option<String>,
        /// Client options.
        #[serde(default)]
        inference_options: InferenceOptions,
        /// True for the auto-start trigger (a lone U+200B): stored, never shown.
        #[serde(default)]
        hidden: bool,
    },
    /// The tutor's message; the correct-answer marker is never part of `text`.
    AssistantMessage {
        /// Markdown text.
        text: String,
        /// True when the model failed mid-stream and this is the partial text.
        #[serde(default)]
        interrupted: bool,
        /// The passages of the book the answer cites (ask mode), in the order first cited.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        citations: Vec<Citation>,
    },
    /// Server-only context for the model (e.g. "the student cancelled"); never sent.
    HiddenContext {
        /// Free-form content.
        content: serde_json::Value,
    },
}

impl ItemKind {
    /// Whether clients may see this item.
    pub fn is_visible(&self) -> bool {
        match self {
            ItemKind::UserMessage { hidden, .. } => !hidden,
            ItemKind::AssistantMessage { .. } => true,
            ItemKind::HiddenContext { .. } => false,
        }
    }

    /// The plain text of a message (user text parts joined, or assistant text).
    pub fn text(&self) -> String {
        match self {
            ItemKind::UserMessage { content, .. } => content
                .iter()
                .map(|c| match c {
                    UserContent::InputText { text } | UserContent::InputTag { text, .. } => {
                        text.as_str()
                    }
                })
                .collect::<Vec<_>>()
                .join(""),
            ItemKind::AssistantMessage { text, .. } => text.clone(),
            ItemKind::HiddenContext { content } => content.as_str().unwrap_or_default().to_string(),
        }
    }
}

/// One entry of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadItem {
    /// `msg_` + 32 hex digits of a UUIDv7 (or `shcx_…` for hidden context).
    pub id: String,
    /// Owning thread.
    pub thread_id: String,
    /// Creation instant (page key, with `id`), microsecond precision.
    pub created_at: DateTime<Utc>,
    /// Content.
    pub kind: ItemKind,
}

/// Sort order of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
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
    /// Exclusive cursor: the `after` of the previous page (see [`crate::domain::cursor`]), or
    /// the older form, the id of the last row of the previous page.
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
    /// Opaque cursor of the last row when `has_more`, to pass as `after`.
    pub after: Option<String>,
}

/// A student's rating of tutor messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackKind {
    /// Thumbs up.
    Positive,
    /// Thumbs down.
    Negative,
}

/// Token usage of one model turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
}
