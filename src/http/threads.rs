//! REST mirror of the study sessions for SDK users: the same use cases as `/chatkit`, with
//! typed JSON and typed server-sent events.

pub mod dto;

use std::sync::Arc;

use futures::StreamExt;
use poem::http::{HeaderValue, header};
use poem::{Endpoint, EndpointExt, Request, Response};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};

pub use dto::*;

use super::auth;
use super::error::{ApiError, configured};
use super::tags::ApiTags;
use crate::app::study::{MessageInput, StudyService, TurnContext};
use crate::domain::lesson::LessonPath;
use crate::domain::rate_limit::Bucket;
use crate::domain::thread::{
    DEFAULT_PAGE_SIZE, FeedbackKind, InferenceOptions, MAX_PAGE_SIZE, Order, Page, PageRequest,
    Thread, UserContent,
};

/// The REST mirror.
pub struct ThreadsApi {
    /// `None` only in the instance built to print the spec.
    study: Option<Arc<StudyService>>,
}

impl ThreadsApi {
    /// The mirror over the study use cases.
    pub fn new(study: Option<Arc<StudyService>>) -> Self {
        Self { study }
    }

    fn study(&self) -> Result<&Arc<StudyService>, ApiError> {
        configured(&self.study, "study sessions")
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

/// Gives the operation's event stream the service's one SSE content type: poem-openapi's
/// `EventStream` answers a bare `text/event-stream`, `/chatkit` names the charset.
fn event_stream_charset(ep: impl Endpoint) -> impl Endpoint<Output = Response> {
    ep.map_to_response().map(|mut resp: Response| async move {
        let is_stream = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::chatkit::sse::EVENT_STREAM_CONTENT_TYPE),
            );
        }
        resp
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
    ) -> Result<ThreadCreated, ApiError> {
        let who = auth::caller(req, Bucket::Api).await?;
        let thread = self
            .study()?
            .create_thread(
                &who,
                &lesson(&body.lesson_path)?,
                body.mode.unwrap_or_default().into(),
            )
            .await?;
        Ok(ThreadCreated::Created(Json(ThreadOut::from(&thread))))
    }

    /// List threads
    ///
    /// The caller's threads, newest first by default, keyset-paged.
    #[oai(path = "/threads", method = "get", operation_id = "listThreads")]
    async fn list(
        &self,
        req: &Request,
        limit: Query<Option<u32>>,
        /// Start strictly after this point: the `after` cursor of the previous page (opaque;
        /// still valid once the thread it stops at is deleted). The older form, the id of the
        /// last thread of the previous page, is still accepted but gets a 400 `bad_request`
        /// once that thread is deleted. Anything else is a 400 `invalid_id`.
        after: Query<Option<String>>,
        order: Query<Option<SortOrder>>,
    ) -> Result<ThreadPageResponse, ApiError> {
        let who = auth::caller(req, Bucket::Api).await?;
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
        let who = auth::caller(req, Bucket::Api).await?;
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
        let who = auth::caller(req, Bucket::Api).await?;
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
        let who = auth::caller(req, Bucket::Api).await?;
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
        /// Start strictly after this point: the `after` cursor of the previous page (opaque;
        /// still valid once the message it stops at is deleted). The older form, the id of the
        /// last message of the previous page, is still accepted but gets a 400 `bad_request`
        /// once that message is deleted. Anything else is a 400 `invalid_id`.
        after: Query<Option<String>>,
        order: Query<Option<SortOrder>>,
    ) -> Result<ItemPageResponse, ApiError> {
        let who = auth::caller(req, Bucket::Api).await?;
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
        operation_id = "sendMessage",
        transform = "event_stream_charset"
    )]
    async fn send(
        &self,
        req: &Request,
        thread_id: Path<String>,
        body: Json<MessageIn>,
    ) -> Result<TurnResponse, ApiError> {
        // Checked on `api` like every request; `chat` is charged once the turn is ready to start.
        let who = auth::caller(req, Bucket::Api).await?;
        let body = body.0;
        let input = MessageInput {
            content: vec![UserContent::InputText { text: body.text }],
            quoted_text: None,
            inference_options: InferenceOptions {
                tool_choice: None,
                model: Some(
                    if body.mode == Some(Mode::Ask) {
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
        let turn = self
            .study()?
            .add_message(&who, &thread_id.0, input, ctx)
            .await
            .map_err(|e| super::rate_limit::turn_refused(req, e))?;
        let events = super::chatkit::start(req, &who, turn).await?;
        let events = events.filter_map(|e| async move { event_out(e) }).boxed();
        Ok(TurnResponse::Events(
            EventStream::new(events)
                .keep_alive(super::chatkit::KEEP_ALIVE)
                .to_event(|e| {
                    poem::web::sse::Event::message(
                        serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&e))
                            .unwrap_or_default(),
                    )
                    .event_type(e.kind())
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
        let who = auth::caller(req, Bucket::Api).await?;
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
