//! ChatKit requests as the client sends them: the envelope every request shares and
//! [`ChatKitRequest`], one variant per served operation with its `params` type. The same types
//! parse the requests and generate the request schema of the OpenAPI document, so the schema
//! says exactly what the parser accepts (the constraints the use cases check are stated on the
//! fields as schema attributes).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::app::study::{MAX_CONTENT_PARTS, MAX_SELECTED_CHARS, MAX_TITLE_CHARS};
use crate::domain::bounds::{ID_PATTERN, MAX_ID_BYTES};
use crate::domain::cursor::{CURSOR_PATTERN, MAX_CURSOR_2_CHARS};
use crate::domain::thread::{
    FeedbackKind, InferenceOptions, MAX_PAGE_SIZE, Order, TEXT_PATTERN, TITLE_PATTERN, UserContent,
};

/// Most items one `items.feedback` rates.
const MAX_RATED_ITEMS: usize = 100;

/// The envelope every request shares, read first: the operation name is bounded and the
/// refused operations are answered before `params` is looked at.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Operation name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Operation parameters (required by the protocol, even when empty).
    pub params: Option<serde_json::Value>,
    /// Integration metadata, an object: never stored or used, but bounded like every client
    /// field.
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A ChatKit request the service serves, selected by `type`, with its `params`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "params")]
#[schemars(rename = "Request")]
pub enum ChatKitRequest {
    /// Starts a thread with a first message; answers an event stream.
    #[serde(rename = "threads.create")]
    ThreadsCreate(CreateParams),
    /// Adds a student message to a thread; answers an event stream.
    #[serde(rename = "threads.add_user_message")]
    AddUserMessage(AddMessageParams),
    /// Answers a student message again, replacing the answers after it; answers an event stream.
    #[serde(rename = "threads.retry_after_item")]
    RetryAfterItem(RetryParams),
    /// Accepted for compatibility (the tutor calls no client tools); answers a stream with
    /// `stream_options` only.
    #[serde(rename = "threads.add_client_tool_output")]
    AddClientToolOutput(ToolOutputParams),
    /// Accepted for compatibility (the tutor sends no widgets); answers a stream with
    /// `stream_options` and a non-retryable `error`.
    #[serde(rename = "threads.custom_action")]
    CustomAction(CustomActionParams),
    /// A thread with its oldest 20 items; answers a thread.
    #[serde(rename = "threads.get_by_id")]
    GetById(ThreadParams),
    /// A page of the student's threads; answers a page of threads.
    #[serde(rename = "threads.list")]
    List(ListParams),
    /// Renames a thread; answers the thread.
    #[serde(rename = "threads.update")]
    Update(UpdateParams),
    /// Deletes a thread with its items; answers `{}`.
    #[serde(rename = "threads.delete")]
    Delete(ThreadParams),
    /// A page of a thread's items; answers a page of items.
    #[serde(rename = "items.list")]
    ItemsList(ItemsListParams),
    /// Rates tutor messages; answers `{}`.
    #[serde(rename = "items.feedback")]
    Feedback(FeedbackParams),
}

impl ChatKitRequest {
    /// The `type` of every variant, in declaration order.
    pub const OPERATIONS: &'static [&'static str] = &[
        "threads.create",
        "threads.add_user_message",
        "threads.retry_after_item",
        "threads.add_client_tool_output",
        "threads.custom_action",
        "threads.get_by_id",
        "threads.list",
        "threads.update",
        "threads.delete",
        "items.list",
        "items.feedback",
    ];

    /// The request of operation `kind` with `params`, parsed once, straight into the
    /// variant's parameters (what deserialising `{"type": kind, "params": params}` as this
    /// enum gives, without building that document and buffering it again); `None` for an
    /// operation that is not one of [`Self::OPERATIONS`].
    pub fn from_parts(
        kind: &str,
        params: serde_json::Value,
    ) -> Option<Result<Self, serde_json::Error>> {
        fn read<P: serde::de::DeserializeOwned>(
            params: serde_json::Value,
            variant: fn(P) -> ChatKitRequest,
        ) -> Option<Result<ChatKitRequest, serde_json::Error>> {
            Some(serde_json::from_value(params).map(variant))
        }
        match kind {
            "threads.create" => read(params, Self::ThreadsCreate),
            "threads.add_user_message" => read(params, Self::AddUserMessage),
            "threads.retry_after_item" => read(params, Self::RetryAfterItem),
            "threads.add_client_tool_output" => read(params, Self::AddClientToolOutput),
            "threads.custom_action" => read(params, Self::CustomAction),
            "threads.get_by_id" => read(params, Self::GetById),
            "threads.list" => read(params, Self::List),
            "threads.update" => read(params, Self::Update),
            "threads.delete" => read(params, Self::Delete),
            "items.list" => read(params, Self::ItemsList),
            "items.feedback" => read(params, Self::Feedback),
            _ => None,
        }
    }
}

/// `input` of `threads.create` and `threads.add_user_message`: one student message.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "UserMessageInput")]
pub struct UserMessageInput {
    /// Content parts (`input_text` / `input_tag`); their text is the message, 1 to 8,000
    /// characters and not blank.
    #[schemars(length(min = 1, max = MAX_CONTENT_PARTS))]
    pub content: Vec<UserContent>,
    /// Attachment ids: the key is required and the list must be empty (this service supports
    /// no attachments; any is refused with 400 `unsupported_operation`).
    #[schemars(length(max = 0))]
    pub attachments: Vec<String>,
    /// Reply-to-selection text, at most 5,000 characters, no NUL.
    #[serde(default)]
    #[schemars(length(max = MAX_SELECTED_CHARS), pattern(TEXT_PATTERN))]
    pub quoted_text: Option<String>,
    /// Options; `model` selects the study mode (`teach` unless it is `ask`).
    pub inference_options: InferenceOptions,
}

/// `params` of `threads.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "CreateParams")]
pub struct CreateParams {
    /// The first message.
    pub input: UserMessageInput,
}

/// `params` of `threads.add_user_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "AddUserMessageParams")]
pub struct AddMessageParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// The message.
    pub input: UserMessageInput,
}

/// `params` of the operations that only name a thread.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "ThreadParams")]
pub struct ThreadParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
}

/// `params` of `threads.add_client_tool_output`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "ClientToolOutputParams")]
pub struct ToolOutputParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// The tool's result (any JSON; ignored: the tutor calls no client tools).
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// `params` of `threads.custom_action`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "CustomActionParams")]
pub struct CustomActionParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// The widget action, `{"type": …, "payload": …}` (ignored: the tutor sends no widgets).
    #[serde(default)]
    pub action: Option<serde_json::Value>,
}

/// `params` of `threads.update`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "UpdateParams")]
pub struct UpdateParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// New title (required, not null): 1 to 200 characters once trimmed, no control
    /// characters.
    #[schemars(length(min = 1, max = MAX_TITLE_CHARS), pattern(TITLE_PATTERN))]
    pub title: String,
}

/// `params` of `threads.list` (paging).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[schemars(rename = "ListParams")]
pub struct ListParams {
    /// Page size, 1 to 100; absent, null and 0 mean 20.
    #[serde(default)]
    #[schemars(schema_with = "limit_schema")]
    pub limit: Option<serde_json::Value>,
    /// Sort order by creation (default `desc`, newest first).
    #[serde(default)]
    pub order: Option<Order>,
    /// Exclusive cursor: the `after` of the previous page (opaque, survives deletion of the row
    /// it stops at). The older forms (a `c1.` cursor, the id of the last row the client has)
    /// are still read but not part of the schema.
    #[serde(default)]
    #[schemars(length(min = 13, max = MAX_CURSOR_2_CHARS), pattern(CURSOR_PATTERN))]
    pub after: Option<String>,
}

/// The schema of `limit`: what `page_request` accepts as a number (the protocol's lax
/// parsing also takes a numeric string such as `"5"`, which the schema leaves out).
fn limit_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Page size, 1 to 100; absent, null and 0 mean 20.",
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": MAX_PAGE_SIZE,
    })
}

/// `params` of `items.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "ItemsListParams")]
pub struct ItemsListParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// Paging, as for `threads.list`.
    #[serde(flatten)]
    pub page: ListParams,
}

/// `params` of `items.feedback`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "FeedbackParams")]
pub struct FeedbackParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// Rated items, 1 to 100 ids.
    #[schemars(
        length(min = 1, max = MAX_RATED_ITEMS),
        inner(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))
    )]
    pub item_ids: Vec<String>,
    /// Rating.
    pub kind: FeedbackKind,
}

/// `params` of `threads.retry_after_item`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "RetryAfterItemParams")]
pub struct RetryParams {
    /// Thread.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub thread_id: String,
    /// The student message to answer again.
    #[schemars(length(min = 1, max = MAX_ID_BYTES), pattern(ID_PATTERN))]
    pub item_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_list_names_every_variant() {
        for op in ChatKitRequest::OPERATIONS {
            let sent = serde_json::json!({"type": op, "params": {}});
            let err = serde_json::from_value::<ChatKitRequest>(sent)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!err.contains("unknown variant"), "{op}: {err}");
        }
        let unknown = serde_json::json!({"type": "threads.explode", "params": {}});
        let err = serde_json::from_value::<ChatKitRequest>(unknown).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }

    #[test]
    fn from_parts_reads_what_the_enum_reads_with_the_same_errors() {
        let samples = [
            serde_json::json!({}),
            serde_json::json!({"thread_id": 5}),
            serde_json::json!({"thread_id": "thr_1", "title": 3}),
            serde_json::json!({"thread_id": "thr_1", "item_id": "msg_1"}),
            serde_json::json!({"limit": "x", "order": "sideways"}),
            serde_json::json!({"limit": 5, "order": "asc", "after": 7}),
            serde_json::json!({"input": {}}),
            serde_json::json!({"input": {"content": [{"type": "input_text", "text": "hi"}],
                "attachments": [], "inference_options": {}}}),
            serde_json::json!({"thread_id": "thr_1", "item_ids": "a", "kind": "positive"}),
            serde_json::json!({"thread_id": "thr_1", "item_ids": ["a"], "kind": "meh"}),
            serde_json::json!([1, 2]),
            serde_json::json!("text"),
        ];
        for op in ChatKitRequest::OPERATIONS {
            for params in &samples {
                let sent = serde_json::json!({"type": op, "params": params});
                let whole = serde_json::from_value::<ChatKitRequest>(sent)
                    .map(|r| format!("{r:?}"))
                    .map_err(|e| e.to_string());
                let parts = ChatKitRequest::from_parts(op, params.clone())
                    .expect("a served operation")
                    .map(|r| format!("{r:?}"))
                    .map_err(|e| e.to_string());
                assert_eq!(parts, whole, "{op} {params}");
            }
        }
        assert!(ChatKitRequest::from_parts("threads.explode", serde_json::json!({})).is_none());
    }
}
