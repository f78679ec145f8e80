//! The one JSON error shape of the service and the only place that maps errors to statuses.

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, Object, payload::Json};

/// Details of an error.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`not_found`, `payload_too_large`, …).
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
        Self {
            error: ErrorDetail {
                code: code.into(),
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
        413 => "request body exceeds the size limit",
        503 => "a dependency is unavailable; retry shortly",
        s if s >= 500 => "internal error; quote the request id when reporting it",
        _ => "the request is invalid",
    }
}
