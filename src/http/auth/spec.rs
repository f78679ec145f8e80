//! The security schemes of the OpenAPI document, derived from the same [`requirement`] table
//! the guard enforces, so the document cannot drift from what is enforced.

use serde_yaml::{Mapping, Value};

use super::{Requirement, requirement};

const BEARER: &str = "bearerAuth";
const API_KEY: &str = "apiKeyAuth";
const ADMIN_SECRET: &str = "adminSecret";
const REFRESH_COOKIE: &str = "refreshCookie";

/// Paths that take the refresh token from the `sm_refresh` cookie or from the body.
const COOKIE_PATHS: &[&str] = &["/auth/refresh", "/auth/logout"];

fn map(pairs: &[(&str, Value)]) -> Value {
    let mut mapping = Mapping::new();
    for (key, value) in pairs {
        mapping.insert(Value::from(*key), value.clone());
    }
    Value::Mapping(mapping)
}

fn text(value: &str) -> Value {
    Value::from(value)
}

fn schemes() -> Value {
    map(&[
        (
            BEARER,
            map(&[
                ("type", text("http")),
                ("scheme", text("bearer")),
                ("bearerFormat", text("JWT")),
                (
                    "description",
                    text(
                        "An access token of this service's own sign-in (`POST /auth/refresh`), a \
                         JWT signed by the SSO (verified against its JWKS), an opaque SSO token \
                         (looked up at its userinfo endpoint), or an API key `sk_…`.",
                    ),
                ),
            ]),
        ),
        (
            API_KEY,
            map(&[
                ("type", text("apiKey")),
                ("in", text("header")),
                ("name", text("X-API-Key")),
                (
                    "description",
                    text("An API key `sk_<id>_<secret>` made with `study-mode-api keys create`."),
                ),
            ]),
        ),
        (
            REFRESH_COOKIE,
            map(&[
                ("type", text("apiKey")),
                ("in", text("cookie")),
                ("name", text("sm_refresh")),
                (
                    "description",
                    text(
                        "The refresh token of a browser session, set by the sign-in callback \
                         (HttpOnly, SameSite=Strict, path /auth). Accepted only from \
                         ALLOWED_ORIGINS. Clients without cookies send `refresh_token` in the \
                         body instead.",
                    ),
                ),
            ]),
        ),
        (
            ADMIN_SECRET,
            map(&[
                ("type", text("apiKey")),
                ("in", text("header")),
                ("name", text("X-Admin-Secret")),
                ("description", text("The operator secret (`ADMIN_SECRET`).")),
            ]),
        ),
    ])
}

fn alternatives(names: &[&str]) -> Value {
    Value::Sequence(
        names
            .iter()
            .map(|name| map(&[(name, Value::Sequence(Vec::new()))]))
            .collect(),
    )
}

/// `spec` (the generated JSON document) with security schemes declared and each protected
/// operation's `security` set; key order is kept.
///
/// # Errors
/// When `spec` is not JSON.
pub fn with_security(spec: &str) -> serde_json::Result<Value> {
    let mut doc: Value = serde_json::from_str(spec)?;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_mapping_mut) {
        for (path, item) in paths.iter_mut() {
            let path = path.as_str().unwrap_or_default();
            let security = match requirement(path) {
                Requirement::Public if COOKIE_PATHS.contains(&path) => {
                    let mut either = alternatives(&[REFRESH_COOKIE]);
                    if let Value::Sequence(list) = &mut either {
                        list.push(Value::Mapping(Mapping::new()));
                    }
                    either
                }
                Requirement::Public => continue,
                Requirement::User => alternatives(&[BEARER, API_KEY]),
                Requirement::Operator(_) => alternatives(&[API_KEY, ADMIN_SECRET]),
            };
            let Some(operations) = item.as_mapping_mut() else {
                continue;
            };
            for (_, operation) in operations.iter_mut() {
                if let Some(operation) = operation.as_mapping_mut() {
                    operation.insert(text("security"), security.clone());
                }
            }
        }
    }
    if let Some(root) = doc.as_mapping_mut() {
        let components = root
            .entry(text("components"))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Some(components) = components.as_mapping_mut() {
            components.insert(text("securitySchemes"), schemes());
        }
    }
    Ok(doc)
}
