//! Pass: an example per operation — its request body and parameters, and its success answer —
//! so readers see real values and a fuzzer's examples phase has something to send. Every
//! example is valid against its schema (the lint checks it) and, sent to a development
//! instance with the sample lessons, is accepted.

use serde_json::{Value as Json, json};
use serde_yaml::Value;

use super::shape::JSON;

const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";
/// The thread and message ids of every example (ChatKit's too).
pub(super) const THREAD: &str = "thr_0f8e3c2a9b7d4e6f8a1b2c3d4e5f6a7b";
pub(super) const ITEM: &str = "msg_4b1d9e2c7a6f4e3d8c2b1a0f9e8d7c6b";
const CREATED: &str = "2026-12-03T09:30:00Z";
/// A cursor as the server issues them.
fn cursor() -> String {
    crate::domain::cursor::encode(1_764_754_200_000_000, THREAD)
}

fn thread() -> Json {
    json!({"id": THREAD, "title": "What is an agent?", "created_at": CREATED, "lesson_path": LESSON})
}

fn item(role: &str, text: &str) -> Json {
    json!({"id": ITEM, "thread_id": THREAD, "created_at": CREATED, "role": role, "text": text,
           "interrupted": false})
}

/// `(operationId, request body, success answer)`.
fn operations() -> Vec<(&'static str, Option<Json>, Option<Json>)> {
    let links = json!({"health": "/health", "ready": "/health/ready", "openapi": "/openapi.json",
                       "docs": "/docs", "metrics": "/metrics"});
    let version = env!("CARGO_PKG_VERSION");
    let window = |name: &str, window: &str, limit: u32, remaining: u32, reset: u32| {
        json!({"name": name, "window": window, "limit": limit, "remaining": remaining,
               "reset": reset})
    };
    vec![
        (
            "getServiceInfo",
            None,
            Some(json!({"name": env!("CARGO_PKG_NAME"), "version": version, "links": links})),
        ),
        (
            "getLiveness",
            None,
            Some(json!({"status": "ok", "version": version})),
        ),
        (
            "getReadiness",
            None,
            Some(json!({"status": "ok", "version": version, "checks": [
                {"name": "database", "status": "up", "required": true, "latency_ms": 2},
                {"name": "redis", "status": "up", "required": false, "latency_ms": 1}
            ]})),
        ),
        (
            "createThread",
            Some(json!({"lesson_path": LESSON, "mode": "teach"})),
            Some(thread()),
        ),
        (
            "listThreads",
            None,
            Some(json!({"data": [thread()], "has_more": true, "after": cursor()})),
        ),
        ("getThread", None, Some(thread())),
        (
            "renameThread",
            Some(json!({"title": "What is an agent?"})),
            Some(thread()),
        ),
        (
            "listItems",
            None,
            Some(json!({"data": [
                item("user", "What makes a program an agent?"),
                item("tutor", "An agent decides its next step from what it observes. …")
            ], "has_more": false})),
        ),
        (
            "sendMessage",
            Some(
                json!({"text": "What makes a program an agent?", "mode": "ask",
                        "user_name": "Ada"}),
            ),
            Some(json!({"type": "delta", "delta": "An agent decides"})),
        ),
        ("rateItem", Some(json!({"kind": "positive"})), None),
        (
            "getLesson",
            None,
            Some(json!({"path": LESSON, "title": "What Is an AI Agent?",
                        "content": "# What Is an AI Agent?\n\nAn agent …",
                        "chunks": [{"index": 0, "title": "What Is an AI Agent?"}],
                        "source": "local", "cached": true, "stale": false,
                        "fetched_at": CREATED})),
        ),
        (
            "getSuggestions",
            None,
            Some(
                json!({"lesson_path": LESSON, "title": "What Is an AI Agent?",
                        "suggestions": [{"label": "Teach me",
                                         "prompt": "Teach me this lesson step by step."}]}),
            ),
        ),
        (
            "invalidateLessonCache",
            Some(json!([LESSON])),
            Some(json!({"status": "ok", "invalidated_count": 1, "paths": [LESSON]})),
        ),
        (
            "receiveGithubWebhook",
            Some(json!({"ref": "refs/heads/main",
                        "repository": {"full_name": "panaversity/agentfactory"},
                        "commits": [{"added": [], "removed": [],
                                     "modified": [format!("apps/learn-app/docs/{LESSON}.md")]}]})),
            Some(json!({"status": "ok", "invalidated_count": 1, "paths": [LESSON]})),
        ),
        (
            "getRateLimit",
            None,
            Some(json!({"tier": "free", "buckets": [
                {"bucket": "chat", "windows": [window("chat-minute", "minute", 20, 19, 60)]},
                {"bucket": "api", "windows": [window("api-minute", "minute", 300, 298, 60)]}
            ]})),
        ),
        (
            "searchBook",
            None,
            Some(
                json!({"query": "What does the agent loop do?", "mode": "full_text",
                        "results": [{"path": LESSON, "lesson_title": "What Is an AI Agent?",
                                     "section_index": 1, "section_title": "The agent loop",
                                     "snippet": "The <mark>agent</mark> <mark>loop</mark> \
                                                 observes, decides and acts…",
                                     "score": 0.42}]}),
            ),
        ),
    ]
}

/// Example values of parameters, by name.
fn parameter(name: &str) -> Option<Json> {
    Some(match name {
        "thread_id" => json!(THREAD),
        "item_id" => json!(ITEM),
        "limit" => json!(20),
        "after" => json!(cursor()),
        "order" => json!("desc"),
        "lesson_path" | "path" => json!(LESSON),
        "selected_text" => json!("An agent decides its next step"),
        "user_name" => json!("Ada"),
        "q" => json!("What does the agent loop do?"),
        _ => return None,
    })
}

fn yaml(value: Json) -> Value {
    serde_yaml::to_value(value).unwrap_or(Value::Null)
}

/// Puts the examples into `doc`.
pub fn apply(doc: &mut Value) {
    let examples = operations();
    let Some(Value::Mapping(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (_, item) in paths.iter_mut() {
        let Value::Mapping(item) = item else { continue };
        for (_, operation) in item.iter_mut() {
            if let Some(Value::Sequence(params)) = operation.get_mut("parameters") {
                for param in params {
                    let example = param
                        .get("name")
                        .and_then(Value::as_str)
                        .and_then(parameter);
                    if let (Some(example), Value::Mapping(param)) = (example, param) {
                        param.insert("example".into(), yaml(example));
                    }
                }
            }
            let id = operation.get("operationId").and_then(Value::as_str);
            let Some((_, request, answer)) = examples.iter().find(|(op, ..)| Some(*op) == id)
            else {
                continue;
            };
            if let (Some(request), Some(Value::Mapping(media))) = (
                request,
                operation
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(|c| c.get_mut(JSON)),
            ) {
                media.insert("example".into(), yaml(request.clone()));
            }
            let Some(Value::Mapping(responses)) = operation.get_mut("responses") else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let answer = match status.as_str() {
                    Some(s) if s.starts_with('2') => answer.clone(),
                    _ => None,
                };
                let Some(Value::Mapping(content)) = response.get_mut("content") else {
                    continue;
                };
                if let Some(answer) = answer {
                    for (_, media) in content.iter_mut() {
                        if let Value::Mapping(media) = media {
                            media.insert("example".into(), yaml(answer.clone()));
                        }
                    }
                }
            }
        }
    }
}
