//! The one JSON error shape of the service and the only place that maps errors to statuses.

use std::time::Duration;

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, Object, payload::Json};

/// `Retry-After` of a 503 `database_unavailable`: a busy pool or a failover is usually over by
/// then, and a retry that comes too soon only queues again.
pub const DATABASE_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Every `code` an error body can carry: the spec declares `ErrorDetail.code` as this enum, and
/// debug builds (the test suite) assert that every error the service builds uses one of them.
pub const ERROR_CODES: &[&str] = &[
    "bad_request",
    "invalid_id",
    "invalid_text",
    "field_too_long",
    "message_too_large",
    "invalid_lesson_path",
    "invalid_user_name",
    "invalid_user_id",
    "invalid_organization_id",
    "unsupported_operation",
    "unauthorized",
    "invalid_token",
    "forbidden",
    "not_found",
    "thread_not_found",
    "item_not_found",
    "lesson_not_found",
    "job_not_found",
    "method_not_allowed",
    "not_acceptable",
    "request_timeout",
    "conflict",
    "turn_in_progress",
    "thread_full",
    "thread_limit_reached",
    "payload_too_large",
    "unsupported_media_type",
    "unprocessable_entity",
    "rate_limited",
    "token_budget_exhausted",
    "internal_error",
    "service_unavailable",
    "database_unavailable",
    "lesson_unavailable",
    "cache_unavailable",
    "auth_unavailable",
    "queue_unavailable",
    "shutting_down",
    "gateway_timeout",
    "redirect_not_allowed",
    "signin_not_started",
    "signin_refused",
    "refresh_token_reused",
    "lesson_not_studied",
    "invalid_query",
];

/// Details of an error.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code; the spec lists every one.
    pub code: String,
    /// Human-readable explanation; never contains internal details of a 5xx.
    pub message: String,
    /// Id of the request, to quote when reporting a problem.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `{"error":{…}}`: the body of every error response.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// An error body without a request id (the middleware adds it).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        debug_assert!(
            ERROR_CODES.contains(&code.as_str()),
            "error code {code:?} is not in ERROR_CODES (the spec's enum)"
        );
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                request_id: None,
            },
        }
    }
}

/// Error responses of operations that can only fail unexpectedly.
#[derive(ApiResponse, Debug)]
pub enum InternalError {
    /// Unexpected failure; details are logged under the request id, never returned.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

/// Stable error code for an HTTP status, used where no handler chose one.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_entity",
        429 => "rate_limited",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        s if s >= 500 => "internal_error",
        _ => "bad_request",
    }
}

/// Message shown for a status when the underlying error must not be shown.
pub fn public_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "no route matches this path",
        405 => "this path does not accept this method",
        408 => "the request body did not arrive in time",
        413 => "request body exceeds the size limit",
        503 => "a dependency is unavailable; retry shortly",
        s if s >= 500 => "internal error; quote the request id when reporting it",
        _ => "the request is invalid",
    }
}

/// Details of a 429.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct RateLimitedDetail {
    /// `rate_limited` (a request quota), or `token_budget_exhausted` (the daily token budget;
    /// `limit` is then tokens per day and `window` is `day`).
    pub code: String,
    /// Which quota was exceeded.
    pub message: String,
    /// Requests (or, for `token_budget_exhausted`, tokens) allowed in the window.
    pub limit: u32,
    /// The window (`second`, `minute`, `hour`, `day`).
    pub window: String,
    /// Milliseconds until a retry can succeed.
    pub retry_after_ms: u64,
    /// Id of the request.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// The body of a 429.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct RateLimitedBody {
    /// The error.
    pub error: RateLimitedDetail,
}

/// Error responses of the API operations; the only place statuses are chosen for domain errors.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is invalid; `code` says how (`bad_request`, `invalid_lesson_path`,
    /// `unsupported_operation`, `invalid_id`, `field_too_long`, `invalid_text`,
    /// `message_too_large`, …).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or invalid credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller may not perform this operation (`forbidden`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such thread, item or lesson for this caller.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The thread or the account is in a state that refuses this: another turn of the thread is
    /// in progress (`turn_in_progress`), the thread holds its maximum of items (`thread_full`),
    /// or the user has the maximum of threads (`thread_limit_reached`).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// A quota is exhausted (`rate_limited`), or the daily token budget is spent
    /// (`token_budget_exhausted`); retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedBody>, #[oai(header = "Retry-After")] u64),
    /// Unexpected failure; details are logged under the request id, never returned.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency (database, lesson source) is unavailable; retry shortly, or after
    /// `Retry-After` seconds when present.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<u64>),
}

impl ApiError {
    /// 400 with a code and message.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(Json(ErrorBody::new(code, message)))
    }

    /// 401 with a message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(Json(ErrorBody::new("unauthorized", message)))
    }

    /// 401 `invalid_token`: a credential was presented and refused for `reason`.
    pub fn invalid_token(reason: impl Into<String>) -> Self {
        Self::Unauthorized(Json(ErrorBody::new("invalid_token", reason)))
    }

    /// 403 with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(Json(ErrorBody::new("forbidden", message)))
    }

    /// 404 with a code and message.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::NotFound(Json(ErrorBody::new(code, message)))
    }

    /// 500; the cause must have been logged by the caller.
    pub fn internal() -> Self {
        Self::Internal(Json(ErrorBody::new(
            "internal_error",
            public_message(StatusCode::INTERNAL_SERVER_ERROR),
        )))
    }

    /// 503 with a code and message.
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::Unavailable(Json(ErrorBody::new(code, message)), None)
    }

    /// 503 with a code, a message and `Retry-After` (whole seconds, at least 1).
    pub fn unavailable_for(code: &str, message: impl Into<String>, retry: Duration) -> Self {
        Self::Unavailable(Json(ErrorBody::new(code, message)), Some(whole_secs(retry)))
    }

    /// 429 `rate_limited` in the quota shape: `limit` per `window`, retry after `retry`.
    pub fn rate_limited(
        message: impl Into<String>,
        limit: u32,
        window: &str,
        retry: Duration,
    ) -> Self {
        Self::TooManyRequests(
            Json(RateLimitedBody {
                error: RateLimitedDetail {
                    code: "rate_limited".into(),
                    message: message.into(),
                    limit,
                    window: window.into(),
                    retry_after_ms: u64::try_from(retry.as_millis()).unwrap_or(u64::MAX),
                    request_id: None,
                },
            }),
            whole_secs(retry),
        )
    }
}

/// `Retry-After` seconds: rounded up, at least 1 (0 would invite an immediate retry).
fn whole_secs(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The use case an API needs; `None` only in the instances built to print the spec, which
/// never serve requests — answered 503 rather than a panic all the same.
///
/// # Errors
/// 503 `service_unavailable` naming `what`.
pub fn configured<'a, T>(
    service: &'a Option<std::sync::Arc<T>>,
    what: &str,
) -> Result<&'a std::sync::Arc<T>, ApiError> {
    service.as_ref().ok_or_else(|| {
        ApiError::unavailable("service_unavailable", format!("{what} are not configured"))
    })
}

impl From<crate::domain::bounds::BoundError> for ApiError {
    fn from(bound: crate::domain::bounds::BoundError) -> Self {
        Self::bad_request(bound.code(), bound.to_string())
    }
}

impl From<crate::domain::ports::StoreError> for ApiError {
    fn from(err: crate::domain::ports::StoreError) -> Self {
        use crate::domain::ports::StoreError as E;
        match err {
            E::NotFound => Self::not_found("not_found", "no such resource for this caller"),
            E::Conflict => Self::Conflict(Json(ErrorBody::new(
                "conflict",
                "changed concurrently; try again",
            ))),
            E::Unavailable => Self::unavailable_for(
                "database_unavailable",
                public_message(StatusCode::SERVICE_UNAVAILABLE),
                DATABASE_RETRY_AFTER,
            ),
            E::Unexpected(e) => {
                tracing::error!(error = ?e, "store operation failed");
                Self::internal()
            }
        }
    }
}

impl From<crate::app::study::StudyError> for ApiError {
    fn from(err: crate::app::study::StudyError) -> Self {
        use crate::app::study::StudyError as E;
        match err {
            E::ThreadNotFound => {
                Self::not_found("thread_not_found", "no such thread for this user")
            }
            E::ItemNotFound => Self::not_found("item_not_found", "no such item in this thread"),
            E::LessonNotFound => {
                Self::not_found("lesson_not_found", "no lesson exists at this path")
            }
            E::Invalid(message) => Self::bad_request("bad_request", message),
            E::Bound(bound) => bound.into(),
            E::ThreadLimitReached { limit } => Self::Conflict(Json(ErrorBody::new(
                "thread_limit_reached",
                format!("you have the maximum of {limit} threads; delete one to start another"),
            ))),
            E::ThreadFull { limit } => Self::Conflict(Json(ErrorBody::new(
                "thread_full",
                format!("this thread holds the maximum of {limit} messages; start a new thread"),
            ))),
            E::Unsupported(what) => Self::bad_request(
                "unsupported_operation",
                format!("{what} is not supported by this service"),
            ),
            E::TurnInProgress => Self::Conflict(Json(ErrorBody::new(
                "turn_in_progress",
                "another reply of this thread is still being written; wait for it to finish",
            ))),
            E::LessonUnavailable => Self::unavailable(
                "lesson_unavailable",
                "the lesson cannot be loaded right now",
            ),
            E::LessonFetchBudgetExhausted { limit, retry_after } => super::lessons::lesson_error(
                crate::app::lessons::LessonError::FetchBudgetExhausted { limit, retry_after },
            ),
            E::StoreUnavailable => crate::domain::ports::StoreError::Unavailable.into(),
            E::TokenBudgetExhausted { limit, reset_after } => {
                Self::token_budget_exhausted(limit, reset_after)
            }
            E::Unexpected(e) => {
                tracing::error!(error = ?e, "study operation failed");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests;
