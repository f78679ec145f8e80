//! The connection edge: header, body and idle timeouts, HTTP/2 stream cap, connection cap, HSTS.

use super::Collector;
use crate::config::{HttpEdgeConfig, RawEnv};

/// `HTTP_HEADER_READ_TIMEOUT_SECS`, `HTTP_BODY_READ_TIMEOUT_SECS`, `HTTP_IDLE_TIMEOUT_SECS`,
/// `HTTP2_MAX_CONCURRENT_STREAMS`, `MAX_CONNECTIONS`, `HSTS_MAX_AGE_SECS`.
pub(super) fn edge(c: &mut Collector, raw: &RawEnv) -> HttpEdgeConfig {
    let max_connections = c.number(
        "MAX_CONNECTIONS",
        &raw.max_connections,
        0usize,
        (0, 10_000_000),
    );
    let hsts = c.number(
        "HSTS_MAX_AGE_SECS",
        &raw.hsts_max_age_secs,
        0u64,
        (0, 2 * 365 * 86_400),
    );
    HttpEdgeConfig {
        header_read_timeout: c.secs(
            "HTTP_HEADER_READ_TIMEOUT_SECS",
            &raw.http_header_read_timeout_secs,
            10,
            (1, 300),
        ),
        body_read_timeout: c.secs(
            "HTTP_BODY_READ_TIMEOUT_SECS",
            &raw.http_body_read_timeout_secs,
            30,
            (1, 600),
        ),
        idle_timeout: c.secs(
            "HTTP_IDLE_TIMEOUT_SECS",
            &raw.http_idle_timeout_secs,
            75,
            (1, 3_600),
        ),
        http2_max_concurrent_streams: c.number(
            "HTTP2_MAX_CONCURRENT_STREAMS",
            &raw.http2_max_concurrent_streams,
            100u32,
            (1, 10_000),
        ),
        max_connections: (max_connections > 0).then_some(max_connections),
        hsts_max_age: (hsts > 0).then_some(hsts),
    }
}
