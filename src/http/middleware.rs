//! Cross-cutting HTTP behaviour: request ids, the JSON error shape, body limits, panics.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use poem::error::ReadBodyError;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::error::{ErrorBody, code_for_status, public_message};
use super::headers::{HeaderPolicy, is_private};

mod trace;

/// Largest error body the JSON error layer will read back to add the request id.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest client-supplied request id that is echoed instead of replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Longest request path written to a log line; longer ones are cut (paths are client text).
const MAX_LOGGED_PATH: usize = 256;

/// The request path as a log field: at most [`MAX_LOGGED_PATH`] bytes, cut on a character
/// boundary (a URI path is ASCII, but cutting safely costs nothing).
pub fn log_path(path: &str) -> &str {
    if path.len() <= MAX_LOGGED_PATH {
        return path;
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// The id of the current request, stored in the request's data.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Serves the request with a fresh database wait budget ([`crate::wait_budget`]): however many
/// store calls it makes, together they wait at most one acquire timeout for connections.
pub async fn db_wait_budget<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    crate::wait_budget::scope(async move { ep.call(req).await.map(IntoResponse::into_response) })
        .await
}

/// Accepts a sane `X-Request-Id` or generates one, echoes it, puts every log line of the
/// request in a span carrying it, and adds the headers every answer carries (`policy`).
pub async fn request_id<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    policy: Arc<HeaderPolicy>,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.set_data(RequestId(id.clone()));
    let method = super::metrics::method_label(req.method());
    let quiet = matches!(req.uri().path(), "/health" | "/health/ready" | "/metrics");
    // The `otel.*` and `http.*` fields name and describe the span in exported traces; probes
    // and scrapes (every few seconds, from the platform) get a span that is never exported.
    let span = if quiet {
        tracing::info_span!(
            "http.probe",
            request_id = %id,
            method,
            path = log_path(req.uri().path()),
        )
    } else {
        tracing::info_span!(
        "http",
        request_id = %id,
        method,
        path = log_path(req.uri().path()),
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        )
    };
    trace::adopt_parent(&span, req.headers());
    let private = is_private(req.uri().path());
    async move {
        let started = Instant::now();
        let mut resp = match ep.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert("x-request-id", value);
        }
        // Security headers on every response; no server banner is ever added.
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        policy.apply(private, headers);
        trace::finish(&tracing::Span::current(), method, &resp);
        let status = resp.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if quiet && status < 400 {
            tracing::debug!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// Turns every error (unknown route, wrong method, bad JSON, oversized body, panic, handler
/// error) into `{"error":{"code","message","request_id"}}`.
pub async fn json_errors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let request_id = req.data::<RequestId>().map(|r| r.0.clone());
    let resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        // A typed error response of an operation (`ApiError`): keep its body and code.
        Err(err) if err.is_from_response() => err.into_response(),
        Err(err) => {
            let status = err.status();
            let message = if status.is_server_error() {
                tracing::error!(error = %err, "request failed");
                public_message(status).to_string()
            } else if matches!(status.as_u16(), 404 | 405 | 408 | 413) {
                public_message(status).to_string()
            } else {
                err.to_string()
            };
            return Ok(json_error(
                status,
                ErrorBody::new(code_for_status(status), message),
                request_id,
            ));
        }
    };
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(resp);
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (parts, body) = resp.into_parts();
    let bytes = body
        .into_bytes_limit(MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    if is_json && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        let Some(error) = value.get_mut("error").and_then(|e| e.as_object_mut()) else {
            // A documented non-error body (the readiness report's 503) passes unchanged.
            return Ok(Response::from_parts(parts, bytes.into()));
        };
        if let Some(id) = request_id {
            error
                .entry("request_id")
                .or_insert(serde_json::Value::String(id));
        }
        let mut resp =
            Response::from_parts(parts, serde_json::to_vec(&value).unwrap_or_default().into());
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        return Ok(resp);
    }
    let text = String::from_utf8_lossy(&bytes);
    let message = if status.is_client_error() && !text.trim().is_empty() && text.len() <= 300 {
        text.trim().to_string()
    } else {
        public_message(status).to_string()
    };
    let mut resp = json_error(
        status,
        ErrorBody::new(code_for_status(status), message),
        request_id,
    );
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(resp)
}

fn json_error(status: StatusCode, mut body: ErrorBody, request_id: Option<String>) -> Response {
    body.error.request_id = request_id;
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&body).unwrap_or_default())
}

/// Reads every request body before any handler sees it, refusing more than `limit` bytes with
/// 413 and a body that has not arrived within `timeout` with 408.
///
/// The limit is enforced on the bytes themselves, not on what the headers claim: an HTTP/2
/// request carries neither `Content-Length` nor `Transfer-Encoding`, and a declared length is
/// only checked first to refuse early. Every route takes small JSON (or nothing), so holding at
/// most `limit` bytes per request is the cheapest safe shape.
pub async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    limit: usize,
    timeout: std::time::Duration,
) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    // HTTP/1.x framing: a request without Content-Length and Transfer-Encoding, or with a zero
    // length, has no body at all (hyper enforces it), so there is nothing to read or time.
    let http1 = req.version() < poem::http::Version::HTTP_2;
    if http1 && !req.headers().contains_key(header::TRANSFER_ENCODING) && declared.unwrap_or(0) == 0
    {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let read = tokio::time::timeout(timeout, req.take_body().into_bytes_limit(limit)).await;
    match read {
        Ok(Ok(bytes)) => req.set_body(bytes),
        Ok(Err(ReadBodyError::PayloadTooLarge)) => {
            return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Ok(Err(e)) => {
            return Err(poem::Error::from_string(
                e.to_string(),
                StatusCode::BAD_REQUEST,
            ));
        }
        Err(_) => return Err(poem::Error::from_status(StatusCode::REQUEST_TIMEOUT)),
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// A handler panicked: answer 500 (the JSON layer adds the shape) and keep serving.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    tracing::error!(panic = %what, "handler panicked");
    let body = ErrorBody::new(
        "internal_error",
        public_message(StatusCode::INTERNAL_SERVER_ERROR),
    );
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&body).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::acceptable_request_id;

    #[test]
    fn request_ids_are_echoed_only_when_short_and_plain() {
        assert!(acceptable_request_id("abc-123_x.y:z"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id("has space"));
        assert!(!acceptable_request_id("new\nline"));
        assert!(!acceptable_request_id(&"a".repeat(129)));
    }
}
