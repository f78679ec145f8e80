//! Pass: each operation's responses say exactly what can happen — its one success status, the
//! error statuses it can really answer (and no others), the rate-limit headers of operations
//! that check a quota, the token budget headers of those that start tutoring turns — and public
//! operations say so with `security: []`.

use serde_yaml::{Mapping, Value};

use super::shape::JSON;

/// What the contract says of one operation beyond what poem-openapi generates.
struct Contract {
    /// `operationId`.
    id: &'static str,
    /// Error statuses it can answer besides 500 and 503 (which every operation can: an
    /// unexpected failure, and a replica draining for shutdown).
    errors: &'static [u16],
    /// Checks the caller's `api` quota, so its answers carry the rate-limit headers.
    quota: bool,
}

const CONTRACTS: &[Contract] = &[
    op("getServiceInfo", &[], false),
    op("getLiveness", &[], false),
    op("getReadiness", &[], false),
    op(
        "chatkit",
        &[400, 401, 403, 404, 408, 409, 413, 415, 429],
        true,
    ),
    op(
        "createThread",
        &[400, 401, 403, 404, 408, 409, 413, 415, 429],
        true,
    ),
    op("listThreads", &[400, 401, 403, 429], true),
    op("getThread", &[400, 401, 403, 404, 429], true),
    op(
        "renameThread",
        &[400, 401, 403, 404, 408, 413, 415, 429],
        true,
    ),
    op("deleteThread", &[400, 401, 403, 404, 429], true),
    op("listItems", &[400, 401, 403, 404, 429], true),
    op(
        "sendMessage",
        &[400, 401, 403, 404, 408, 409, 413, 415, 429],
        true,
    ),
    op("rateItem", &[400, 401, 403, 404, 408, 413, 415, 429], true),
    op("getLesson", &[400, 401, 403, 404, 429], true),
    op("getSuggestions", &[400, 401, 403, 404, 429], true),
    op(
        "invalidateLessonCache",
        &[400, 401, 403, 408, 413, 415, 429],
        false,
    ),
    op("receiveGithubWebhook", &[400, 401, 408, 413, 429], false),
    op("getRateLimit", &[401, 403, 429], false),
    op("listAuthProviders", &[429], false),
    op("startSignIn", &[400, 404, 429], false),
    op("finishSignIn", &[400, 401, 403, 404, 429], false),
    op("refreshToken", &[400, 401, 403, 408, 413, 415, 429], false),
    op("signOut", &[400, 401, 403, 408, 413, 415, 429], false),
    op("getMe", &[401, 403, 429], false),
    op("getJwks", &[], false),
    op("exportMyData", &[401, 403, 429], true),
    op("deleteMyData", &[401, 403, 429], true),
    op("syncBook", &[400, 401, 403, 408, 413, 415, 429], false),
    op("retryJob", &[400, 401, 403, 404, 429], false),
    op("getJob", &[400, 401, 403, 404, 429], true),
    op("followJob", &[400, 401, 403, 404, 429], true),
    op("getLessonProgress", &[400, 401, 403, 429], true),
    op("getBookToc", &[401, 403, 429], true),
    op("getBookQuality", &[401, 403, 429], true),
    op("getMyProgress", &[401, 403, 429], true),
    op("getMyLessonProgress", &[400, 401, 403, 404, 429], true),
    op("getQuestionAnalytics", &[400, 401, 403, 429], false),
    op("searchBook", &[400, 401, 403, 429], true),
];

/// Operations that start tutoring turns: their answers carry the `X-TokenBudget-*` headers
/// when the caller's tier has a daily token budget.
const TOKEN_BUDGET_OPERATIONS: &[&str] = &["chatkit", "sendMessage"];

const fn op(id: &'static str, errors: &'static [u16], quota: bool) -> Contract {
    Contract { id, errors, quota }
}

fn description(status: u16) -> &'static str {
    match status {
        400 => "The request is invalid; `code` says how.",
        401 => "Missing or invalid credentials.",
        403 => "The credentials do not allow this operation.",
        404 => "No such resource for this caller.",
        408 => "The request body did not arrive in time.",
        409 => "The thread or the account is in a state that refuses this; `code` says which.",
        413 => "The request body exceeds `MAX_BODY_BYTES`.",
        415 => "The request body is not `application/json`.",
        429 => "A quota is exhausted; retry after `Retry-After` seconds.",
        503 => {
            "Unavailable for a moment (a dependency, or a replica shutting down); retry, \
                after `Retry-After` seconds when present."
        }
        _ => "Unexpected failure; details are logged under the request id, never returned.",
    }
}

fn header(description: &str, schema: &str) -> Value {
    let mut map = Mapping::new();
    map.insert("description".into(), description.into());
    let mut ty = Mapping::new();
    ty.insert("type".into(), schema.into());
    map.insert("schema".into(), Value::Mapping(ty));
    Value::Mapping(map)
}

fn request_id() -> Value {
    header("Request id, echoed or generated.", "string")
}

/// The rate-limit headers an answer carries once its quota was checked.
fn rate_limit_headers(headers: &mut Mapping) {
    let rows = [
        (
            "RateLimit-Policy",
            "Every window of the bucket: `\"api-minute\";q=60;w=60, …`.",
            "string",
        ),
        (
            "RateLimit",
            "The tightest window now: `\"api-minute\";r=59;t=60`.",
            "string",
        ),
        (
            "X-RateLimit-Limit",
            "Requests allowed in the tightest window.",
            "integer",
        ),
        ("X-RateLimit-Remaining", "Requests left in it.", "integer"),
        (
            "X-RateLimit-Reset",
            "Seconds until it is replenished.",
            "integer",
        ),
    ];
    for (name, text, ty) in rows {
        headers.insert(name.into(), header(text, ty));
    }
}

/// The daily token budget headers of an answer to a tutoring turn.
fn token_budget_headers(headers: &mut Mapping) {
    let rows = [
        (
            "X-TokenBudget-Limit",
            "Model tokens the caller's tier may spend per UTC day (absent when unlimited).",
        ),
        (
            "X-TokenBudget-Remaining",
            "Tokens left today, as checked before this turn (its own cost is charged when it ends).",
        ),
        (
            "X-TokenBudget-Reset",
            "Seconds until the budget is replenished at 00:00 UTC.",
        ),
    ];
    for (name, text) in rows {
        headers.insert(name.into(), header(text, "integer"));
    }
}

fn error_response(status: u16) -> Value {
    let schema = if status == 429 {
        "#/components/schemas/RateLimitedBody"
    } else {
        "#/components/schemas/ErrorBody"
    };
    let mut reference = Mapping::new();
    reference.insert("$ref".into(), schema.into());
    let mut media = Mapping::new();
    media.insert("schema".into(), Value::Mapping(reference));
    let mut content = Mapping::new();
    content.insert(JSON.into(), Value::Mapping(media));
    let mut response = Mapping::new();
    response.insert("description".into(), description(status).into());
    response.insert("content".into(), Value::Mapping(content));
    Value::Mapping(response)
}

/// Applies [`CONTRACTS`] to every operation of `doc`; `public` tells whether a path needs no
/// credentials.
pub fn apply(doc: &mut Value, public: impl Fn(&str) -> bool) {
    let Some(Value::Mapping(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let is_public = public(path.as_str().unwrap_or_default());
        let Value::Mapping(item) = item else { continue };
        for (_, operation) in item.iter_mut() {
            let Value::Mapping(operation) = operation else {
                continue;
            };
            let id = operation.get("operationId").and_then(Value::as_str);
            let Some(contract) = CONTRACTS.iter().find(|c| Some(c.id) == id) else {
                continue;
            };
            // A public operation that takes an optional credential (the refresh cookie) keeps
            // the alternatives the security pass gave it.
            if is_public && !operation.contains_key("security") {
                operation.insert("security".into(), Value::Sequence(Vec::new()));
            }
            if let Some(Value::Mapping(responses)) = operation.get_mut("responses") {
                reshape(responses, contract);
                if contract.id == "createThread" {
                    link_thread_operations(responses);
                }
            }
        }
    }
}

/// The operations a client calls next with the new thread's id, as `links` of its 201.
const THREAD_OPERATIONS: &[&str] = &[
    "getThread",
    "renameThread",
    "deleteThread",
    "listItems",
    "sendMessage",
];

fn link_thread_operations(responses: &mut Mapping) {
    let Some(Value::Mapping(created)) = responses.get_mut("201") else {
        return;
    };
    let mut links = Mapping::new();
    for id in THREAD_OPERATIONS {
        let mut parameters = Mapping::new();
        parameters.insert("thread_id".into(), "$response.body#/id".into());
        let mut link = Mapping::new();
        link.insert("operationId".into(), (*id).into());
        link.insert("parameters".into(), Value::Mapping(parameters));
        links.insert((*id).into(), Value::Mapping(link));
    }
    created.insert("links".into(), Value::Mapping(links));
}

fn reshape(responses: &mut Mapping, contract: &Contract) {
    let allowed = |status: u16| {
        status < 400 || status == 500 || status == 503 || contract.errors.contains(&status)
    };
    let mut kept = Mapping::new();
    let mut statuses: Vec<u16> = responses
        .keys()
        .filter_map(|k| k.as_str()?.parse().ok())
        .chain(contract.errors.iter().copied())
        .chain([500, 503])
        .filter(|s| allowed(*s))
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let key = Value::from(status.to_string());
        let mut response = responses
            .remove(&key)
            .unwrap_or_else(|| error_response(status));
        if let Value::Mapping(response) = &mut response {
            if status >= 400 && status != 503 || !response.contains_key("description") {
                response.insert("description".into(), description(status).into());
            }
            let headers = response
                .entry("headers".into())
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if let Value::Mapping(headers) = headers {
                let mut fresh = Mapping::new();
                fresh.insert("X-Request-Id".into(), request_id());
                if status == 429 || status == 503 {
                    let retry = header("Seconds to wait before retrying.", "integer");
                    fresh.insert("Retry-After".into(), retry);
                }
                if contract.quota && (status < 400 || status == 429) {
                    rate_limit_headers(&mut fresh);
                }
                if TOKEN_BUDGET_OPERATIONS.contains(&contract.id) && (status < 400 || status == 429)
                {
                    token_budget_headers(&mut fresh);
                }
                for (name, value) in headers.iter() {
                    let known = name.as_str().is_some_and(|n| {
                        n.eq_ignore_ascii_case("x-request-id")
                            || n.eq_ignore_ascii_case("retry-after")
                    });
                    if !known {
                        fresh.insert(name.clone(), value.clone());
                    }
                }
                *headers = fresh;
            }
        }
        kept.insert(key, response);
    }
    *responses = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_yaml::from_str(
            "paths:\n  /v1/x:\n    get:\n      operationId: getThread\n      responses:\n        '200': {description: ok}\n        '201': {description: never}\n        '409': {description: never}\n        '404': {description: x}\n",
        )
        .unwrap()
    }

    fn statuses(doc: &Value) -> Vec<String> {
        doc["paths"]["/v1/x"]["get"]["responses"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn only_statuses_that_can_happen_are_listed() {
        let mut doc = doc();
        apply(&mut doc, |_| false);
        // 201 stays: success statuses come from the handler's own type.
        assert_eq!(
            statuses(&doc),
            [
                "200", "201", "400", "401", "403", "404", "429", "500", "503"
            ]
        );
        let ok = &doc["paths"]["/v1/x"]["get"]["responses"]["200"]["headers"];
        assert!(ok["X-Request-Id"].is_mapping());
        assert!(ok["RateLimit"].is_mapping());
        assert!(doc["paths"]["/v1/x"]["get"].get("security").is_none());
    }

    #[test]
    fn a_public_operation_says_it_needs_no_credentials() {
        let mut doc = doc();
        apply(&mut doc, |_| true);
        assert_eq!(
            doc["paths"]["/v1/x"]["get"]["security"],
            Value::Sequence(Vec::new())
        );
    }
}
