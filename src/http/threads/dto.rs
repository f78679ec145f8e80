//! Wire types of the REST mirror: the poem-openapi objects, enums and responses of
//! `/v1/threads`, with their conversions from the domain.

mod citation;

pub use citation::CitationOut;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult};
use poem_openapi::{ApiResponse, Enum, Object, Union};

use crate::app::study::TurnEvent;
use crate::domain::thread::{ItemKind, Thread, ThreadItem};
use crate::domain::tutor::StudyMode;

/// Study mode of a thread or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum Mode {
    /// Socratic teaching, one chunk at a time, with A/B questions.
    #[default]
    Teach,
    /// Brief direct answers about the lesson.
    Ask,
}

impl From<Mode> for StudyMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Teach => StudyMode::Teach,
            Mode::Ask => StudyMode::Ask,
        }
    }
}

/// Reads an optional `mode` that may be absent but not `null`: the spec declares the field a
/// non-nullable enum, and quietly reading `null` as the default would hide a client's bug.
fn mode_or_absent(value: Option<serde_json::Value>) -> ParseResult<Option<Mode>> {
    match value {
        None => Ok(None),
        Some(serde_json::Value::Null) => Err(ParseError::custom(
            "mode must be `teach` or `ask`, or left out; null is not accepted",
        )),
        value => Mode::parse_from_json(value)
            .map(Some)
            .map_err(ParseError::propagate),
    }
}

/// Reads a JSON string, and only a string: poem-openapi would read `42` or `true` as text, and
/// the spec (which says `string`) would then not describe what the server accepts.
fn text(value: Option<serde_json::Value>) -> ParseResult<String> {
    match value {
        Some(serde_json::Value::String(text)) => Ok(text),
        Some(other) => Err(ParseError::expected_type(other)),
        None => Err(ParseError::custom("the field is required")),
    }
}

/// Reads an optional text that may be absent but not `null` (the spec declares a string).
fn text_or_absent(value: Option<serde_json::Value>) -> ParseResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(serde_json::Value::Null) => Err(ParseError::custom(
            "a string, or leave the field out; null is not accepted",
        )),
        value => text(value).map(Some).map_err(ParseError::propagate),
    }
}

/// Sort order of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// A study thread.
///
/// Optional fields are left out when absent, never sent as `null`.
#[derive(Debug, Object)]
pub struct ThreadOut {
    /// `thr_…` id.
    pub id: String,
    /// Title, once set; left out until then.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Lesson the thread studies; left out for a thread started without one.
    #[oai(skip_serializing_if_is_none)]
    pub lesson_path: Option<String>,
}

impl From<&Thread> for ThreadOut {
    fn from(t: &Thread) -> Self {
        Self {
            id: t.id.clone(),
            title: t.title.clone(),
            created_at: t.created_at,
            lesson_path: t
                .metadata
                .get("lesson_path")
                .and_then(|p| p.as_str())
                .map(str::to_owned),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Role {
    /// The student.
    User,
    /// The tutor.
    Tutor,
}

/// A message of a thread.
#[derive(Debug, Object)]
pub struct ItemOut {
    /// `msg_…` id.
    pub id: String,
    /// Thread.
    pub thread_id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub role: Role,
    /// Text (markdown for the tutor).
    pub text: String,
    /// True when the model failed mid-answer and this is the partial text.
    pub interrupted: bool,
    /// The lesson sections the tutor's answer cites (ask mode), in the order first cited;
    /// empty for the student's messages and uncited answers.
    pub citations: Vec<CitationOut>,
}

impl ItemOut {
    pub(super) fn from_item(item: &ThreadItem) -> Option<Self> {
        if !item.kind.is_visible() {
            return None;
        }
        let (role, interrupted, citations) = match &item.kind {
            ItemKind::UserMessage { .. } => (Role::User, false, Vec::new()),
            ItemKind::AssistantMessage {
                interrupted,
                citations,
                ..
            } => (
                Role::Tutor,
                *interrupted,
                citations.iter().map(CitationOut::from).collect(),
            ),
            ItemKind::HiddenContext { .. } => return None,
        };
        Some(Self {
            id: item.id.clone(),
            thread_id: item.thread_id.clone(),
            created_at: item.created_at,
            role,
            text: item.kind.text(),
            interrupted,
            citations,
        })
    }
}

/// A page of threads.
#[derive(Debug, Object)]
pub struct ThreadPage {
    /// Threads.
    pub data: Vec<ThreadOut>,
    /// More pages follow.
    pub has_more: bool,
    /// Opaque cursor for the next page (left out on the last page): pass it back as `after`. It
    /// stays valid when the thread it stops at is deleted.
    #[oai(skip_serializing_if_is_none)]
    pub after: Option<String>,
}

/// A page of messages.
#[derive(Debug, Object)]
pub struct ItemPage {
    /// Messages.
    pub data: Vec<ItemOut>,
    /// More pages follow.
    pub has_more: bool,
    /// Opaque cursor for the next page (left out on the last page): pass it back as `after`. It
    /// stays valid when the message it stops at is deleted.
    #[oai(skip_serializing_if_is_none)]
    pub after: Option<String>,
}

/// A new thread.
#[derive(Debug, Object)]
pub struct CreateThreadIn {
    /// Lesson path, e.g. `01-Part/02-Chapter/03-lesson`.
    #[oai(deserialize_with = "text")]
    pub lesson_path: String,
    /// Default mode of the thread: `teach` when absent; `null` is refused.
    #[oai(deserialize_with = "mode_or_absent")]
    pub mode: Option<Mode>,
}

/// A rename.
#[derive(Debug, Object)]
pub struct RenameIn {
    /// New title, 1-200 characters.
    #[oai(deserialize_with = "text")]
    pub title: String,
}

/// A student message.
#[derive(Debug, Object)]
pub struct MessageIn {
    /// The message, at most 8,000 characters.
    #[oai(deserialize_with = "text")]
    pub text: String,
    /// Mode of this turn: `teach` when absent; `null` is refused.
    #[oai(deserialize_with = "mode_or_absent")]
    pub mode: Option<Mode>,
    /// Highlighted text for ask mode, at most 5,000 characters.
    #[oai(deserialize_with = "text_or_absent")]
    pub selected_text: Option<String>,
    /// Display name of the student: at most 64 characters, only letters (any script), spaces,
    /// apostrophes, hyphens and dots; anything else is refused with 400 `invalid_user_name`.
    #[oai(deserialize_with = "text_or_absent")]
    pub user_name: Option<String>,
}

/// A rating.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Rating {
    /// Helpful.
    Positive,
    /// Not helpful.
    Negative,
}

/// Feedback on a tutor message.
#[derive(Debug, Object)]
pub struct FeedbackIn {
    /// The rating.
    pub kind: Rating,
}

/// `user_message`: the student's message as stored.
#[derive(Debug, Object)]
pub struct UserMessageEvent {
    /// The stored message.
    pub item: ItemOut,
}

/// `delta`: text to append to the tutor's answer.
#[derive(Debug, Object)]
pub struct DeltaEvent {
    /// Text, whitespace exact.
    pub delta: String,
}

/// `done`: the tutor's answer as stored; the last event of a turn that succeeded.
#[derive(Debug, Object)]
pub struct DoneEvent {
    /// The stored message.
    pub item: ItemOut,
}

/// `thread`: the thread changed (it got its title).
#[derive(Debug, Object)]
pub struct ThreadEvent {
    /// The thread now.
    pub thread: ThreadOut,
}

/// `error`: the turn failed; the last event of the stream.
#[derive(Debug, Object)]
pub struct ErrorEvent {
    /// What went wrong, for the student.
    pub message: String,
    /// Whether sending the message again makes sense.
    pub allow_retry: bool,
}

/// One event of a tutoring turn; `type` says which, and is also the SSE `event:` name.
#[derive(Debug, Union)]
#[oai(discriminator_name = "type", one_of)]
pub enum TurnEventOut {
    /// The stored student message.
    #[oai(mapping = "user_message")]
    UserMessage(UserMessageEvent),
    /// Tutor text.
    #[oai(mapping = "delta")]
    Delta(DeltaEvent),
    /// The stored tutor message.
    #[oai(mapping = "done")]
    Done(DoneEvent),
    /// The thread changed.
    #[oai(mapping = "thread")]
    Thread(ThreadEvent),
    /// The turn failed.
    #[oai(mapping = "error")]
    Error(ErrorEvent),
}

impl TurnEventOut {
    /// The event's `type`, also its SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UserMessage(_) => "user_message",
            Self::Delta(_) => "delta",
            Self::Done(_) => "done",
            Self::Thread(_) => "thread",
            Self::Error(_) => "error",
        }
    }
}

pub(super) fn event_out(event: TurnEvent) -> Option<TurnEventOut> {
    Some(match event {
        TurnEvent::ItemDone(item) => TurnEventOut::UserMessage(UserMessageEvent {
            item: ItemOut::from_item(&item)?,
        }),
        TurnEvent::AssistantDelta { delta, .. } => TurnEventOut::Delta(DeltaEvent { delta }),
        TurnEvent::AssistantDone(item) => TurnEventOut::Done(DoneEvent {
            item: ItemOut::from_item(&item)?,
        }),
        TurnEvent::ThreadUpdated(thread) | TurnEvent::ThreadCreated(thread) => {
            TurnEventOut::Thread(ThreadEvent {
                thread: ThreadOut::from(&thread),
            })
        }
        TurnEvent::Error {
            message,
            allow_retry,
        } => TurnEventOut::Error(ErrorEvent {
            message: message.unwrap_or_else(|| "the tutor could not finish this answer".into()),
            allow_retry,
        }),
        TurnEvent::StreamOptions | TurnEvent::AssistantStarted { .. } => return None,
    })
}

/// 200 with a thread.
#[derive(ApiResponse)]
pub enum ThreadResponse {
    /// The thread.
    #[oai(status = 200)]
    Ok(Json<ThreadOut>),
}

/// 201 with the new thread.
#[derive(ApiResponse)]
pub enum ThreadCreated {
    /// The new thread.
    #[oai(status = 201)]
    Created(Json<ThreadOut>),
}

/// A page of threads.
#[derive(ApiResponse)]
pub enum ThreadPageResponse {
    /// The page.
    #[oai(status = 200)]
    Ok(Json<ThreadPage>),
}

/// A page of messages.
#[derive(ApiResponse)]
pub enum ItemPageResponse {
    /// The page.
    #[oai(status = 200)]
    Ok(Json<ItemPage>),
}

/// Nothing to return.
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// The turn's events.
#[derive(ApiResponse)]
pub enum TurnResponse {
    /// Typed server-sent events (`event:` is the type), ending when the turn ends.
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, TurnEventOut>>),
}
