//! The `Allow` header of a 405 (RFC 9110 §15.5.6: a 405 must list the methods the target
//! resource supports), taken from the routes the service serves.

use std::collections::BTreeSet;
use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// The methods each path of the service accepts, as route templates (`{thread_id}` matches
/// any one segment).
#[derive(Debug, Default)]
pub struct AllowTable {
    routes: Vec<(Vec<String>, BTreeSet<String>)>,
}

impl AllowTable {
    /// The table of an OpenAPI document's `paths` (JSON), plus `extra` `(path, methods)`
    /// routes served outside it. A document that cannot be read yields only `extra`.
    pub fn new(spec_json: &str, extra: &[(&str, &[&str])]) -> Self {
        let mut table = Self::default();
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in paths {
                let methods = ops
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect());
                table.add(path, methods.unwrap_or_default());
            }
        }
        for (path, methods) in extra {
            table.add(path, methods.to_vec());
        }
        // Literal segments win over templates, as in the router.
        table
            .routes
            .sort_by_key(|(segments, _)| segments.iter().filter(|s| s.starts_with('{')).count());
        table
    }

    fn add(&mut self, path: &str, methods: Vec<&str>) {
        let mut methods: BTreeSet<String> = methods
            .iter()
            .filter(|m| {
                matches!(
                    **m,
                    "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
                ) || m.chars().all(|c| c.is_ascii_uppercase())
            })
            .map(|m| m.to_ascii_uppercase())
            .collect();
        // The router answers HEAD wherever it answers GET.
        if methods.contains("GET") {
            methods.insert("HEAD".into());
        }
        let segments = segments(path).map(str::to_owned).collect();
        self.routes.push((segments, methods));
    }

    /// The `Allow` value for `path`, if a route serves it.
    pub fn allow(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = segments(path).collect();
        self.routes
            .iter()
            .find(|(route, _)| {
                route.len() == wanted.len()
                    && route
                        .iter()
                        .zip(&wanted)
                        .all(|(r, w)| r == w || (r.starts_with('{') && !w.is_empty()))
            })
            .map(|(_, methods)| methods.iter().cloned().collect::<Vec<_>>().join(", "))
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// Adds `Allow` to every 405 whose path the table knows.
pub async fn on_405<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    table: Arc<AllowTable>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    // Boxed: the whole application's future sits inside this one, and keeping it on the heap
    // keeps the outermost layer from growing every task's stack.
    let mut resp = match Box::pin(ep.call(req)).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = table.allow(&path)
        && let Ok(value) = HeaderValue::from_str(&allow)
    {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::AllowTable;

    const SPEC: &str = r#"{"paths":{
        "/v1/threads":{"get":{},"post":{}},
        "/v1/threads/{thread_id}":{"get":{},"patch":{},"delete":{},"parameters":[]},
        "/health":{"get":{}}
    }}"#;

    #[test]
    fn allow_lists_the_methods_of_the_matching_route() {
        let table = AllowTable::new(SPEC, &[("/metrics", &["GET"])]);

        assert_eq!(
            table.allow("/v1/threads").as_deref(),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            table.allow("/v1/threads/thr_1").as_deref(),
            Some("DELETE, GET, HEAD, PATCH")
        );
        assert_eq!(table.allow("/metrics").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/nowhere"), None);
        assert_eq!(table.allow("/v1/threads/thr_1/x"), None);
    }
}
