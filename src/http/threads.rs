//! REST mirror of the study sessions for SDK users: the same use cases as `/chatkit`, with
//! typed JSON and typed server-sent events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::auth;
use super::error::ApiError;
use super::tags::ApiTags;
use crate::app::study::{MessageInput, StudyService, TurnContext, TurnEvent};
use crate::config::Config;
use crate::domain::lesson::LessonPath;
use crate::domain::thread::{
    DEFAULT_PAGE_SIZE, FeedbackKind, InferenceOptions, ItemKind, MAX_PAGE_SIZE, Order, Page,
    PageRequest, Thread, ThreadItem, UserContent,
};
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
#[derive(Debug, Object)]
pub struct ThreadOut {
    /// `thr_…` id.
    pub id: String,
    /// Title, once set.
    pub title: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Lesson the thread studies.
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

/// A message of a thread.
#[derive(Debug, Object)]
pub struct ItemOut {
    /// `msg_…` id.
    pub id: String,
    /// Thread.
    pub thread_id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// `user` or `tutor`.
    pub role: String,
    /// Text (markdown for the tutor).
    pub text: String,
    /// True when the model failed mid-answer and this is the partial text.
    pub interrupted: bool,
}

impl ItemOut {
    fn from_item(item: &ThreadItem) -> Option<Self> {
        if !item.kind.is_visible() {
            return None;
        }
        let (role, interrupted) = match &item.kind {
            ItemKind::UserMessage { .. } => ("user", false),
            ItemKind::AssistantMessage { interrupted, .. } => ("tutor", *interrupted),
            ItemKind::HiddenContext { .. } => return None,
        };
        Some(Self {
            id: item.id.clone(),
            thread_id: item.thread_id.clone(),
            created_at: item.created_at,
            role: role.into(),
            text: item.kind.text(),
            interrupted,
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
    /// Cursor for the next page.
    pub after: Option<String>,
}

/// A page of messages.
#[derive(Debug, Object)]
pub struct ItemPage {
    /// Messages.
    pub data: Vec<ItemOut>,
    /// More pages follow.
    pub has_more: bool,
    /// Cursor for the next page.
    pub after: Option<String>,
}

/// A new thread.
#[derive(Debug, Object)]
pub struct CreateThreadIn {
    /// Lesson path, e.g. `01-Part/02-Chapter/03-lesson`.
    pub lesson_path: String,
    /// Default mode of the thread.
    #[oai(default)]
    pub mode: Mode,
}

/// A rename.
#[derive(Debug, Object)]
pub struct RenameIn {
    /// New title, 1-200 characters.
    pub title: String,
}

/// A student message.
#[derive(Debug, Object)]
pub struct MessageIn {
    /// The message, at most 8,000 characters.
    pub text: String,
    /// Mode of this turn.
    #[oai(default)]
    pub mode: Mode,
    /// Highlighted text for ask mode, at most 5,000 characters.
    pub selected_text: Option<String>,
    /// Display name of the student.
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

/// One event of a tutoring turn.
#[derive(Debug, Object)]
pub struct TurnEventOut {
    /// `message` (stored student message), `delta` (tutor text), `done` (stored tutor message),
    /// `thread` (thread changed) or `error`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The message, for `message` and `done`.
    pub item: Option<ItemOut>,
    /// Text to append, for `delta`.
    pub delta: Option<String>,
    /// The thread, for `thread`.
    pub thread: Option<ThreadOut>,
    /// What went wrong, for `error`.
    pub message: Option<String>,
    /// Whether retrying makes sense, for `error`.
    pub allow_retry: Option<bool>,
}

fn event_out(event: TurnEvent) -> Option<TurnEventOut> {
    let blank = |kind: &str| TurnEventOut {
        kind: kind.into(),
        item: None,
        delta: None,
        thread: None,
        message: None,
        allow_retry: None,
    };
    Some(match event {
        TurnEvent::ItemDone(item) => TurnEventOut {
            item: ItemOut::from_item(&item),
            ..blank("message")
        },
        TurnEvent::AssistantDelta { delta, .. } => TurnEventOut {
            delta: Some(delta),
            ..blank("delta")
        },
        TurnEvent::AssistantDone(item) => TurnEventOut {
            item: ItemOut::from_item(&item),
            ..blank("done")
        },
        TurnEvent::ThreadUpdated(thread) | TurnEvent::ThreadCreated(thread) => TurnEventOut {
            thread: Some(ThreadOut::from(&thread)),
            ..blank("thread")
        },
        TurnEvent::Error {
            message,
            allow_retry,
        } => TurnEventOut {
            message: Some(
                message.unwrap_or_else(|| "the tutor could not finish this answer".into()),
            ),
            allow_retry: Some(allow_retry),
            ..blank("error")
        },
        TurnEvent::StreamOptions | TurnEvent::AssistantStarted { .. } => return None,
    })
}

/// 200 with a thread.
#[derive(ApiResponse)]
pub enum ThreadResponse {
    /// The thread.
    #[oai(status = 200)]
    Ok(Json<ThreadOut>),
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

/// The REST mirror.
pub struct ThreadsApi {
    /// `None` only in the instance built to print the spec.
    study: Option<Arc<StudyService>>,
    config: Arc<Config>,
}

impl ThreadsApi {
    /// The mirror over the study use cases.
    pub fn new(study: Option<Arc<StudyService>>, config: Arc<Config>) -> Self {
        Self { study, config }
    }

    fn study(&self) -> Result<&Arc<StudyService>, ApiError> {
        self.study.as_ref().ok_or_else(|| {
            ApiError::unavailable("service_unavailable", "study sessions are not configured")
        })
    }
}

fn page(
    limit: Option<u32>,
    after: Option<String>,
    order: Option<SortOrder>,
) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("limit must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let order = match order.unwrap_or_default() {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    Ok(PageRequest {
        limit,
        after,
        order,
    })
}

fn lesson(raw: &str) -> Result<LessonPath, ApiError> {
    LessonPath::parse(raw).map_err(|e| ApiError::bad_request("invalid_lesson_path", e.to_string()))
}

fn thread_page(p: Page<Thread>) -> ThreadPage {
    ThreadPage {
        data: p.data.iter().map(ThreadOut::from).collect(),
        has_more: p.has_more,
        after: p.after,
    }
}

#[OpenApi(
    prefix_path = "/v1",
    tag = "ApiTags::Threads",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl ThreadsApi {
    /// Create a thread
    ///
    /// Creates an empty study thread on a lesson; send a message to start the first turn.
    #[oai(path = "/threads", method = "post", operation_id = "createThread")]
    async fn create(
        &self,
        req: &Request,
        body: Json<CreateThreadIn>,
    ) -> Result<ThreadResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let thread = self
            .study()?
            .create_thread(&who, &lesson(&body.lesson_path)?, body.mode.into())
            .await?;
        Ok(ThreadResponse::Created(Json(ThreadOut::from(&thread))))
    }

    /// List threads
    ///
    /// The caller's threads, newest first by default, keyset-paged.
    #[oai(path = "/threads", method = "get", operation_id = "listThreads")]
    async fn list(
        &self,
        req: &Request,
        limit: Query<Option<u32>>,
        after: Query<Option<String>>,
        order: Query<Option<SortOrder>>,
    ) -> Result<ThreadPageResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let threads = self
            .study()?
            .list_threads(&who, &page(limit.0, after.0, order.0)?)
            .await?;
        Ok(ThreadPageResponse::Ok(Json(thread_page(threads))))
    }

    /// Get a thread
    #[oai(
        path = "/threads/:thread_id",
        method = "get",
        operation_id = "getThread"
    )]
    async fn get(
        &self,
        req: &Request,
        thread_id: Path<String>,
    ) -> Result<ThreadResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let first = PageRequest {
            limit: 1,
            after: None,
            order: Order::Asc,
        };
        let (thread, _) = self.study()?.get_thread(&who, &thread_id.0, &first).await?;
        Ok(ThreadResponse::Ok(Json(ThreadOut::from(&thread))))
    }

    /// Rename a thread
    #[oai(
        path = "/threads/:thread_id",
        method = "patch",
        operation_id = "renameThread"
    )]
    async fn rename(
        &self,
        req: &Request,
        thread_id: Path<String>,
        body: Json<RenameIn>,
    ) -> Result<ThreadResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let thread = self
            .study()?
            .rename_thread(&who, &thread_id.0, &body.title)
            .await?;
        Ok(ThreadResponse::Ok(Json(ThreadOut::from(&thread))))
    }

    /// Delete a thread
    ///
    /// Deletes the thread with its messages, study progress and feedback.
    #[oai(
        path = "/threads/:thread_id",
        method = "delete",
        operation_id = "deleteThread"
    )]
    async fn delete(&self, req: &Request, thread_id: Path<String>) -> Result<NoContent, ApiError> {
        let who = auth::principal(req, &self.config)?;
        self.study()?.delete_thread(&who, &thread_id.0).await?;
        Ok(NoContent::Done)
    }

    /// List messages
    ///
    /// Messages of a thread, newest first by default, keyset-paged.
    #[oai(
        path = "/threads/:thread_id/items",
        method = "get",
        operation_id = "listItems"
    )]
    async fn items(
        &self,
        req: &Request,
        thread_id: Path<String>,
        limit: Query<Option<u32>>,
        after: Query<Option<String>>,
        order: Query<Option<SortOrder>>,
    ) -> Result<ItemPageResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let items = self
            .study()?
            .list_items(&who, &thread_id.0, &page(limit.0, after.0, order.0)?)
            .await?;
        Ok(ItemPageResponse::Ok(Json(ItemPage {
            data: items.data.iter().filter_map(ItemOut::from_item).collect(),
            has_more: items.has_more,
            after: items.after,
        })))
    }

    /// Send a message
    ///
    /// Stores the message and streams the tutor's answer as typed server-sent events. A second
    /// message while a turn of the thread is running gets 409 `turn_in_progress`.
    #[oai(
        path = "/threads/:thread_id/messages",
        method = "post",
        operation_id = "sendMessage"
    )]
    async fn send(
        &self,
        req: &Request,
        thread_id: Path<String>,
        body: Json<MessageIn>,
    ) -> Result<TurnResponse, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let body = body.0;
        let input = MessageInput {
            content: vec![UserContent::InputText { text: body.text }],
            quoted_text: None,
            inference_options: InferenceOptions {
                tool_choice: None,
                model: Some(
                    if body.mode == Mode::Ask {
                        "ask"
                    } else {
                        "teach"
                    }
                    .into(),
                ),
            },
            attachments: Vec::new(),
        };
        let ctx = super::chatkit::turn_context(None, body.selected_text, body.user_name)?;
        let ctx = TurnContext {
            lesson_path: None,
            ..ctx
        };
        let events = self
            .study()?
            .add_message(&who, &thread_id.0, input, ctx)
            .await?;
        let events = events.filter_map(|e| async move { event_out(e) }).boxed();
        Ok(TurnResponse::Events(
            EventStream::new(events)
                .keep_alive(super::chatkit::KEEP_ALIVE)
                .to_event(|e| {
                    poem::web::sse::Event::message(
                        serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&e))
                            .unwrap_or_default(),
                    )
                    .event_type(e.kind.clone())
                }),
        ))
    }

    /// Rate a tutor message
    ///
    /// Stores a positive or negative rating for tutor quality reports (a new rating replaces
    /// the old one).
    #[oai(
        path = "/threads/:thread_id/items/:item_id/feedback",
        method = "post",
        operation_id = "rateItem"
    )]
    async fn feedback(
        &self,
        req: &Request,
        thread_id: Path<String>,
        item_id: Path<String>,
        body: Json<FeedbackIn>,
    ) -> Result<NoContent, ApiError> {
        let who = auth::principal(req, &self.config)?;
        let kind = match body.kind {
            Rating::Positive => FeedbackKind::Positive,
            Rating::Negative => FeedbackKind::Negative,
        };
        self.study()?
            .feedback(&who, &thread_id.0, &[item_id.0], kind)
            .await?;
        Ok(NoContent::Done)
    }
}
