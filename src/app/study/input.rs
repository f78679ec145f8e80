//! Input checks shared by the turn starters: message size and shape, and which lesson a turn
//! is about.

use super::{MAX_MESSAGE_CHARS, MAX_SELECTED_CHARS, MessageInput, StudyError, TurnContext};
use crate::domain::lesson::LessonPath;
use crate::domain::thread::{ItemKind, Thread};

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

/// Checks a message's size and shape; returns its plain text.
pub(super) fn validate(input: &MessageInput) -> Result<String, StudyError> {
    if !input.attachments.is_empty() {
        return Err(StudyError::Unsupported("attachments".into()));
    }
    if input.content.len() > 50 {
        return Err(StudyError::Invalid(
            "a message has at most 50 content parts".into(),
        ));
    }
    let text = ItemKind::UserMessage {
        content: input.content.clone(),
        quoted_text: None,
        inference_options: Default::default(),
        hidden: false,
    }
    .text();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(StudyError::Invalid(format!(
            "a message has at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    if text.trim().is_empty() {
        return Err(StudyError::Invalid("the message is empty".into()));
    }
    if input
        .quoted_text
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SELECTED_CHARS)
    {
        return Err(StudyError::Invalid(format!(
            "quoted_text has at most {MAX_SELECTED_CHARS} characters"
        )));
    }
    Ok(text)
}
