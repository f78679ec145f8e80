//! Where a finished sign-in may send the browser: only to an address on the allow-list
//! (`AUTH_ALLOWED_REDIRECTS`), so the sign-in can never be turned into an open redirect.

use url::Url;

/// Longest `redirect_to` considered.
pub const MAX_REDIRECT_LEN: usize = 2048;

/// `candidate` when it is allowed: an absolute http(s) URL without user info whose origin
/// equals an entry's origin and, when the entry has a path other than `/`, whose path starts
/// with it (on a segment boundary). `None` (absent) picks the first entry.
pub fn allowed_redirect(allowed: &[String], candidate: Option<&str>) -> Option<String> {
    let Some(candidate) = candidate else {
        return allowed.first().cloned();
    };
    if candidate.len() > MAX_REDIRECT_LEN || candidate.chars().any(|c| c.is_control()) {
        return None;
    }
    let url = Url::parse(candidate).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host().is_none()
    {
        return None;
    }
    allowed.iter().find_map(|entry| {
        let entry = Url::parse(entry).ok()?;
        if entry.origin() != url.origin() {
            return None;
        }
        let prefix = entry.path().trim_end_matches('/');
        let path = url.path();
        let inside = prefix.is_empty()
            || path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'));
        inside.then(|| url.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Vec<String> {
        vec![
            "http://localhost:3000".into(),
            "https://book.example.org/app".into(),
        ]
    }

    #[test]
    fn only_listed_origins_and_paths_are_returned_to() {
        let ok = |c: &str| allowed_redirect(&list(), Some(c));
        assert_eq!(
            ok("http://localhost:3000/lesson/1").as_deref(),
            Some("http://localhost:3000/lesson/1")
        );
        assert!(ok("https://book.example.org/app").is_some());
        assert!(ok("https://book.example.org/app/x?y=1").is_some());
        for refused in [
            "https://evil.example/",
            "https://book.example.org/application",
            "https://book.example.org/",
            "http://book.example.org/app",
            "//evil.example/",
            "/relative",
            "javascript:alert(1)",
            "http://localhost:3000@evil.example/",
            "http://user@localhost:3000/",
            "http://localhost:3001/",
            "https://book.example.org.evil.example/app",
        ] {
            assert_eq!(ok(refused), None, "{refused}");
        }
        assert_eq!(
            allowed_redirect(&list(), None).as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(allowed_redirect(&[], None), None);
    }
}
