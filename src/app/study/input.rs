//! What a turn starts from (the student's message and the request's context) and the input
//! checks shared by the turn starters: message size and shape (every client field bounded
//! with [`crate::domain::bounds`]), ids, and which lesson a turn is about.

use super::{MAX_MESSAGE_CHARS, MAX_SELECTED_CHARS, StudyError};
use crate::domain::bounds::{
    BoundError, MAX_OPTION_CHARS, MAX_STORED_MESSAGE_BYTES, MAX_TAG_DATA_BYTES,
    MAX_TAG_GROUP_CHARS, MAX_TAG_ID_CHARS, check_id, check_json, check_label, check_text,
    json_size,
};
use crate::domain::lesson::LessonPath;
use crate::domain::thread::{InferenceOptions, ItemKind, Thread, UserContent};

/// A student message as received, before it becomes an item.
#[derive(Debug, Clone)]
pub struct MessageInput {
    /// Content parts.
    pub content: Vec<UserContent>,
    /// Reply-to-selection text.
    pub quoted_text: Option<String>,
    /// Client options (`model` = study mode).
    pub inference_options: crate::domain::thread::InferenceOptions,
    /// Attachment ids (none are supported).
    pub attachments: Vec<String>,
}

/// Per-request context of a turn, from the query string.
#[derive(Debug, Clone, Default)]
pub struct TurnContext {
    /// Lesson the panel is open on.
    pub lesson_path: Option<LessonPath>,
    /// Text the student highlighted.
    pub selected_text: Option<String>,
    /// Display name.
    pub user_name: Option<String>,
}

/// Most content parts of one message.
pub const MAX_CONTENT_PARTS: usize = 50;

/// The error for a turn that names no lesson, neither in the query nor in the thread.
pub(super) fn lesson_required() -> StudyError {
    StudyError::Invalid(
        "lesson_path is required: open the tutor from a lesson (?lesson_path=…)".into(),
    )
}

/// The lesson of a turn: the query's, else the one the thread was started on.
pub(super) fn lesson_of(thread: &Thread, ctx: &TurnContext) -> Result<LessonPath, StudyError> {
    if let Some(path) = &ctx.lesson_path {
        return Ok(path.clone());
    }
    thread
        .metadata
        .get("lesson_path")
        .and_then(|p| p.as_str())
        .and_then(|p| LessonPath::parse(p).ok())
        .ok_or_else(lesson_required)
}

/// Checks a message's size and shape, field by field and as the item it would be stored as;
/// returns its plain text.
pub(super) fn validate(input: &MessageInput) -> Result<String, StudyError> {
    if !input.attachments.is_empty() {
        return Err(StudyError::Unsupported("attachments".into()));
    }
    if input.content.len() > MAX_CONTENT_PARTS {
        return Err(StudyError::Invalid(format!(
            "a message has at most {MAX_CONTENT_PARTS} content parts"
        )));
    }
    for (n, part) in input.content.iter().enumerate() {
        if let UserContent::InputTag {
            id, data, group, ..
        } = part
        {
            let field = |name: &str| format!("content[{n}].{name}");
            check_label(&field("id"), id, MAX_TAG_ID_CHARS)?;
            check_json(&field("data"), data, MAX_TAG_DATA_BYTES)?;
            if let Some(group) = group {
                check_label(&field("group"), group, MAX_TAG_GROUP_CHARS)?;
            }
        }
    }
    let options = &input.inference_options;
    if let Some(model) = &options.model {
        check_label("inference_options.model", model, MAX_OPTION_CHARS)?;
    }
    if let Some(tool) = &options.tool_choice {
        check_label(
            "inference_options.tool_choice.id",
            &tool.id,
            MAX_OPTION_CHARS,
        )?;
    }
    if let Some(quoted) = &input.quoted_text {
        check_text("quoted_text", quoted, MAX_SELECTED_CHARS)?;
    }
    let text = ItemKind::UserMessage {
        content: input.content.clone(),
        quoted_text: None,
        inference_options: Default::default(),
        hidden: false,
    }
    .text();
    check_text("the message text", &text, MAX_MESSAGE_CHARS)?;
    if text.trim().is_empty() {
        return Err(StudyError::Invalid("the message is empty".into()));
    }
    // The parts are each bounded; the whole is bounded too, as it would be stored.
    let stored = StoredMessage {
        content: &input.content,
        quoted_text: input.quoted_text.as_deref(),
        inference_options: options,
    };
    if json_size(&stored, MAX_STORED_MESSAGE_BYTES).is_none() {
        return Err(BoundError::MessageTooLarge {
            max_bytes: MAX_STORED_MESSAGE_BYTES,
        }
        .into());
    }
    Ok(text)
}

/// The fields of a user message item, borrowed, to measure it without copying it.
#[derive(serde::Serialize)]
struct StoredMessage<'a> {
    content: &'a [UserContent],
    quoted_text: Option<&'a str>,
    inference_options: &'a InferenceOptions,
}

/// Checks a thread or item id a client named (`field` as the client spelt it).
pub(super) fn id(field: &str, value: &str) -> Result<(), StudyError> {
    check_id(field, value).map_err(StudyError::from)
}
