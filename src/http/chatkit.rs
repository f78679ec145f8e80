//! `POST /chatkit`: the ChatKit protocol the learn-app's "Teach Me" panel speaks.
//!
//! JSON operations answer `application/json`; streaming operations answer
//! `text/event-stream`. Every failure that can be known before a stream starts (malformed body,
//! unknown type, missing thread, a turn already running) is a JSON error with a status instead.

pub mod request;
pub mod schema;
pub mod sse;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use poem::{IntoResponse, Request, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::{ApiResponse, OpenApi, param::Query, payload::Json, types::Type};

use super::auth;
use super::error::{ApiError, configured};
use super::rate_limit::{show_budget, turn_refused};
use super::tags::ApiTags;
use crate::app::study::{MAX_SELECTED_CHARS, MAX_USER_NAME_CHARS};
use crate::app::study::{MessageInput, PendingTurn, StudyService, TurnContext, TurnStream};
use crate::domain::bounds::{MAX_METADATA_BYTES, check_json, check_text};
use crate::domain::lesson::LessonPath;
use crate::domain::rate_limit::Bucket;
use crate::domain::thread::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Order, PageRequest};
use crate::domain::tutor::is_student_name;
use request::{ChatKitRequest, Envelope};
use wire::{WireItem, WirePage, WireThread};

/// Interval of `: keep-alive` comments while the model is silent.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Longest operation name echoed in an error; the longest real one has 30 characters.
const MAX_TYPE_CHARS: usize = 64;

/// Operations of the protocol this service does not offer (answered 400
/// `unsupported_operation`; the spec lists them in the operation's description).
pub const UNSUPPORTED: &[&str] = &[
    "attachments.create",
    "attachments.delete",
    "input.transcribe",
    "threads.add_structured_input",
    "threads.sync_custom_action",
];

/// Where the parser reads a struct: `params` and its struct members (absent or `null` ones are
/// the parser's to judge).
const STRUCTS: &[&[&str]] = &[
    &[],
    &["input"],
    &["input", "inference_options"],
    &["input", "inference_options", "tool_choice"],
];

/// The first place in `params` where a struct is given as anything but a JSON object.
fn struct_given_as_non_object(params: &serde_json::Value) -> Option<String> {
    STRUCTS.iter().find_map(|path| {
        let value = path.iter().try_fold(params, |v, key| v.get(key))?;
        let wrong = !(value.is_object() || (value.is_null() && !path.is_empty()));
        wrong.then(|| {
            std::iter::once("params")
                .chain(path.iter().copied())
                .collect::<Vec<_>>()
                .join(".")
        })
    })
}

/// The answer of `POST /chatkit`: JSON, an event stream, or a JSON error.
pub enum ChatKitResponse {
    /// A compact JSON document.
    Json(Vec<u8>),
    /// Events of a turn.
    Stream(TurnStream),
    /// A failure before any stream started.
    Error(ApiError),
}

impl IntoResponse for ChatKitResponse {
    fn into_response(self) -> Response {
        match self {
            Self::Json(body) => Response::builder()
                .content_type("application/json")
                .body(body),
            Self::Stream(events) => sse::response(events, KEEP_ALIVE),
            Self::Error(err) => err.into_response(),
        }
    }
}

impl ApiResponse for ChatKitResponse {
    fn meta() -> MetaResponses {
        let mut responses = vec![MetaResponse {
            description: "JSON operations (`threads.get_by_id`, `threads.list`, `threads.update`, \
                `threads.delete`, `items.list`, `items.feedback`) answer one compact \
                `application/json` document. Streaming operations (`threads.create`, \
                `threads.add_user_message`, `threads.retry_after_item`, \
                `threads.add_client_tool_output`, `threads.custom_action`) answer \
                `text/event-stream; charset=utf-8`: each event is one line `data: {json}` (the \
                `text/event-stream` schema; its kind is its `type`) followed by a blank line. \
                A line starting with `:` is a comment to skip (`: keep-alive` while the tutor \
                is silent). ChatKit streams carry no `event:` or `id:` lines and no end \
                marker: the stream ends with the body.",
            status: Some(200),
            status_range: None,
            content: vec![
                MetaMediaType {
                    content_type: "application/json",
                    schema: serde_json::Value::schema_ref(),
                },
                MetaMediaType {
                    content_type: "text/event-stream",
                    schema: String::schema_ref(),
                },
            ],
            headers: vec![],
        }];
        responses.extend(ApiError::meta().responses);
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

/// The ChatKit endpoint.
pub struct ChatKitApi {
    /// `None` only in the instance built to print the spec.
    study: Option<Arc<StudyService>>,
}

impl ChatKitApi {
    /// The endpoint over the study use cases (`None`: spec generation only).
    pub fn new(study: Option<Arc<StudyService>>) -> Self {
        Self { study }
    }
}

#[OpenApi(
    tag = "ApiTags::ChatKit",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl ChatKitApi {
    /// ChatKit protocol endpoint
    ///
    /// One endpoint for every ChatKit operation the service serves, selected by the body's
    /// `type` (`{"type": …, "params": {…}, "metadata": {…}}`, see `ChatKitRequest`). Streaming
    /// operations answer an event stream, the others one JSON document (see the 200 answer);
    /// every failure known before a stream starts is a JSON error with its status. The study
    /// mode comes from `params.input.inference_options.model` (`teach` by default, or `ask`);
    /// `threads.create` needs `lesson_path`.
    #[oai(path = "/chatkit", method = "post", operation_id = "chatkit")]
    async fn chatkit(
        &self,
        req: &Request,
        /// A ChatKit request: `{"type": "...", "params": {...}}`.
        body: Json<serde_json::Value>,
        /// Lesson the panel is open on, e.g. `01-Part/02-Chapter/03-lesson`.
        lesson_path: Query<Option<String>>,
        /// Text the student highlighted (ask mode), at most 5,000 characters.
        selected_text: Query<Option<String>>,
        /// Display name of the student: at most 64 characters, only letters (any script),
        /// spaces, apostrophes, hyphens and dots; anything else is refused with 400
        /// `invalid_user_name`.
        user_name: Query<Option<String>>,
    ) -> ChatKitResponse {
        let ctx = match turn_context(lesson_path.0, selected_text.0, user_name.0) {
            Ok(ctx) => ctx,
            Err(e) => return ChatKitResponse::Error(e),
        };
        match self.dispatch(req, body.0, ctx).await {
            Ok(resp) => resp,
            Err(e) => ChatKitResponse::Error(e),
        }
    }
}

impl ChatKitApi {
    async fn dispatch(
        &self,
        req: &Request,
        body: serde_json::Value,
        ctx: TurnContext,
    ) -> Result<ChatKitResponse, ApiError> {
        let envelope: Envelope = serde_json::from_value(body)
            .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
        let kind = envelope.kind.as_str();
        if kind.chars().nth(MAX_TYPE_CHARS).is_some() {
            return Err(ApiError::bad_request("bad_request", "unknown type"));
        }
        if let Some(metadata) = &envelope.metadata {
            check_json("metadata", metadata, MAX_METADATA_BYTES)?;
        }
        if UNSUPPORTED.contains(&kind) {
            return Err(ApiError::bad_request(
                "unsupported_operation",
                format!("{kind} is not supported by this service"),
            ));
        }
        let params = envelope
            .params
            .ok_or_else(|| ApiError::bad_request("bad_request", "missing field `params`"))?;
        // serde would read a struct from a JSON array too (`[null, null]`); the protocol and the
        // schema say an object.
        if let Some(path) = struct_given_as_non_object(&params) {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("{path} must be a JSON object"),
            ));
        }
        let who = auth::principal(req)?;
        // Every request is parsed and checked on the `api` quota; `chat` is charged only for a
        // turn that passed every check and is about to start (see `start`).
        super::rate_limit::enforce(req, &who, Bucket::Api).await?;
        let study = configured(&self.study, "study sessions")?;
        let request = parse(kind, params)?;
        let stream = |s: TurnStream| Ok(ChatKitResponse::Stream(s));
        match request {
            ChatKitRequest::ThreadsCreate(p) => {
                let turn = study
                    .start_thread(&who, message(p.input), ctx)
                    .await
                    .map_err(|e| turn_refused(req, e))?;
                stream(start(req, &who, turn).await?)
            }
            ChatKitRequest::AddUserMessage(p) => {
                let turn = study
                    .add_message(&who, &p.thread_id, message(p.input), ctx)
                    .await
                    .map_err(|e| turn_refused(req, e))?;
                stream(start(req, &who, turn).await?)
            }
            ChatKitRequest::RetryAfterItem(p) => {
                let turn = study
                    .retry_after(&who, &p.thread_id, &p.item_id, ctx)
                    .await
                    .map_err(|e| turn_refused(req, e))?;
                stream(start(req, &who, turn).await?)
            }
            ChatKitRequest::AddClientToolOutput(p) => {
                stream(study.client_tool_output(&who, &p.thread_id).await?)
            }
            ChatKitRequest::CustomAction(p) => {
                stream(study.custom_action(&who, &p.thread_id).await?)
            }
            ChatKitRequest::GetById(p) => {
                let page = PageRequest {
                    limit: DEFAULT_PAGE_SIZE,
                    after: None,
                    order: Order::Asc,
                };
                let (thread, items) = study.get_thread(&who, &p.thread_id, &page).await?;
                json(&WireThread::new(
                    &thread,
                    WirePage::from_page(items, |i| WireItem::from_item(&i)),
                ))
            }
            ChatKitRequest::List(p) => {
                let page = page_request(p)?;
                let threads = study.list_threads(&who, &page).await?;
                json(&WirePage::from_page(threads, |t| {
                    Some(WireThread::from_thread(t, WirePage::empty()))
                }))
            }
            ChatKitRequest::Update(p) => {
                let thread = study.rename_thread(&who, &p.thread_id, &p.title).await?;
                json(&WireThread::new(&thread, WirePage::empty()))
            }
            ChatKitRequest::Delete(p) => {
                study.delete_thread(&who, &p.thread_id).await?;
                Ok(ChatKitResponse::Json(b"{}".to_vec()))
            }
            ChatKitRequest::ItemsList(p) => {
                let page = page_request(p.page)?;
                let items = study.list_items(&who, &p.thread_id, &page).await?;
                json(&WirePage::from_page(items, |i| WireItem::from_item(&i)))
            }
            ChatKitRequest::Feedback(p) => {
                study
                    .feedback(&who, &p.thread_id, &p.item_ids, p.kind)
                    .await?;
                Ok(ChatKitResponse::Json(b"{}".to_vec()))
            }
        }
    }
}

/// Charges a checked turn to the `chat` quota, then stores and starts it; its answer shows the
/// student's daily token budget as it stood at the check. A 429 here comes
/// before any event and before anything of the turn is stored; the pending turn is dropped,
/// which releases its thread.
///
/// # Errors
/// 429 `rate_limited`, or what starting the turn fails with.
pub(crate) async fn start(
    req: &Request,
    who: &crate::domain::principal::Principal,
    turn: PendingTurn,
) -> Result<TurnStream, ApiError> {
    // Shown on every answer to the turn, a chat-quota 429 included.
    show_budget(req, turn.budget().as_ref());
    super::rate_limit::enforce(req, who, Bucket::Chat).await?;
    Ok(turn.begin().await?)
}

/// The typed request of operation `kind` with `params`: the parser the request schema is
/// generated from.
fn parse(kind: &str, params: serde_json::Value) -> Result<ChatKitRequest, ApiError> {
    ChatKitRequest::from_parts(kind, params)
        .ok_or_else(|| ApiError::bad_request("bad_request", format!("unknown type {kind:?}")))?
        .map_err(|e| ApiError::bad_request("bad_request", format!("params: {e}")))
}

fn json<T: serde::Serialize>(value: &T) -> Result<ChatKitResponse, ApiError> {
    serde_json::to_vec(value)
        .map(ChatKitResponse::Json)
        .map_err(|e| {
            tracing::error!(error = %e, "serialising a ChatKit response failed");
            ApiError::internal()
        })
}

fn message(input: request::UserMessageInput) -> MessageInput {
    MessageInput {
        content: input.content,
        quoted_text: input.quoted_text,
        inference_options: input.inference_options,
        attachments: input.attachments,
    }
}

/// `limit` as the protocol reads it: absent, null and 0 mean 20; "5" and 5.0 mean 5.
fn page_request(params: request::ListParams) -> Result<PageRequest, ApiError> {
    let request::ListParams {
        limit,
        order,
        after,
    } = params;
    let bad = || {
        ApiError::bad_request(
            "bad_request",
            format!("params.limit must be a whole number from 0 to {MAX_PAGE_SIZE}"),
        )
    };
    let n = match limit {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => v,
            (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 => f as u64,
            _ => return Err(bad()),
        },
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if n > u64::from(MAX_PAGE_SIZE) {
        return Err(bad());
    }
    let limit = if n == 0 { DEFAULT_PAGE_SIZE } else { n as u32 };
    Ok(PageRequest {
        limit,
        after,
        order: order.unwrap_or_default(),
    })
}

/// Query parameters of a turn, validated.
pub(crate) fn turn_context(
    lesson_path: Option<String>,
    selected_text: Option<String>,
    user_name: Option<String>,
) -> Result<TurnContext, ApiError> {
    let lesson_path = match lesson_path.filter(|p| !p.trim().is_empty()) {
        Some(raw) => Some(
            LessonPath::parse(&raw)
                .map_err(|e| ApiError::bad_request("invalid_lesson_path", e.to_string()))?,
        ),
        None => None,
    };
    if let Some(text) = &selected_text {
        check_text("selected_text", text, MAX_SELECTED_CHARS)?;
    }
    // The name reaches the tutor's prompt: only a name's characters, so it cannot carry
    // instructions or markup (an empty one is the same as none).
    if user_name
        .as_deref()
        .map(str::trim)
        .is_some_and(|n| !n.is_empty() && !is_student_name(n))
    {
        return Err(ApiError::bad_request(
            "invalid_user_name",
            format!(
                "user_name has at most {MAX_USER_NAME_CHARS} characters: letters, spaces, \
                 apostrophes, hyphens and dots"
            ),
        ));
    }
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(TurnContext {
        lesson_path,
        selected_text: clean(selected_text),
        user_name: clean(user_name),
    })
}
