//! Response headers every answer carries: no caching of private JSON, and HSTS for deployments
//! that terminate TLS in front of the service.

use std::sync::Arc;

use poem::http::{HeaderValue, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Paths whose answers are a user's own data: never stored by a browser or a shared cache.
const PRIVATE_PREFIXES: &[&str] = &["/v1/", "/chatkit"];

/// What [`response_headers`] adds.
#[derive(Debug, Clone, Default)]
pub struct HeaderPolicy {
    /// `Strict-Transport-Security` value, when HSTS is on.
    pub hsts: Option<HeaderValue>,
}

impl HeaderPolicy {
    /// The policy of `HSTS_MAX_AGE_SECS` (`None` = no HSTS header).
    pub fn new(hsts_max_age: Option<u64>) -> Self {
        Self {
            hsts: hsts_max_age
                .and_then(|secs| HeaderValue::from_str(&format!("max-age={secs}")).ok()),
        }
    }
}

fn is_private(path: &str) -> bool {
    PRIVATE_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Adds `Cache-Control: no-store` to private answers that set no caching policy of their own
/// (a lesson sets `private, max-age=60` for its ETag revalidation), and HSTS when configured.
pub async fn response_headers<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    policy: Arc<HeaderPolicy>,
) -> poem::Result<Response> {
    let private = is_private(req.uri().path());
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    let headers = resp.headers_mut();
    if private && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = &policy.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_and_chatkit_are_private_and_health_is_not() {
        assert!(is_private("/v1/threads"));
        assert!(is_private("/chatkit"));
        assert!(is_private("/chatkit/suggestions"));
        assert!(!is_private("/health"));
        assert!(!is_private("/openapi.json"));
    }

    #[test]
    fn hsts_is_off_unless_a_max_age_is_set() {
        assert!(HeaderPolicy::new(None).hsts.is_none());
        assert_eq!(
            HeaderPolicy::new(Some(31_536_000)).hsts.unwrap(),
            "max-age=31536000"
        );
    }
}
