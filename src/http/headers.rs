//! Response headers every answer carries: no caching of private JSON, and HSTS for deployments
//! that terminate TLS in front of the service.

use poem::http::{HeaderMap, HeaderValue, header};

/// Paths whose answers are a user's own data: never stored by a browser or a shared cache.
const PRIVATE_PREFIXES: &[&str] = &["/v1/", "/chatkit"];

/// What every answer gets besides its own headers (applied by `middleware::request_id`).
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

/// Whether answers to `path` are a user's own data.
pub fn is_private(path: &str) -> bool {
    PRIVATE_PREFIXES.iter().any(|p| path.starts_with(p))
}

impl HeaderPolicy {
    /// Adds `Cache-Control: no-store` to a private answer that sets no caching policy of its
    /// own (a lesson sets `private, max-age=60` for its ETag revalidation), and HSTS when
    /// configured.
    pub fn apply(&self, private: bool, headers: &mut HeaderMap) {
        if private && !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
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
