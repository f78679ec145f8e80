//! Pass: `POST /chatkit` typed — the request as a `oneOf` of the protocol's operations, the JSON
//! responses and the stream events, generated from the Rust wire types the server uses
//! ([`crate::http::chatkit::schema`]).

use serde_json::json;
use serde_yaml::{Mapping, Value};

use crate::http::chatkit::{UNSUPPORTED, schema};

/// Types the `/chatkit` operation in `doc`: the ChatKit components under
/// `components.schemas`, the request body, and both media types of the 200 answer.
pub fn apply(doc: &mut Value) {
    let Ok(Value::Mapping(components)) = serde_yaml::to_value(schema::components()) else {
        return;
    };
    if let Some(schemas) = doc
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut)
    {
        schemas.extend(components);
        nullable_optional_references(schemas);
    }
    let Some(op) = doc
        .get_mut("paths")
        .and_then(|p| p.get_mut("/chatkit"))
        .and_then(|p| p.get_mut("post"))
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    if let Some(Value::String(description)) = op.get_mut("description") {
        let refused: Vec<String> = UNSUPPORTED.iter().map(|op| format!("`{op}`")).collect();
        description.push_str(&format!(
            "\n\nThe protocol's other operations are answered 400 `unsupported_operation`:\n{};\n\
             any other `type` is 400 `bad_request`.",
            refused.join(",\n")
        ));
    }
    if let Some(body) = op.get_mut("requestBody").and_then(Value::as_mapping_mut) {
        let mut content = content(&[("application/json", schema::REQUEST)]);
        if let Some(Value::Mapping(media)) = content.get_mut("application/json") {
            media.insert("examples".into(), yaml(&request_examples()));
        }
        body.insert("content".into(), content);
    }
    if let Some(ok) = op
        .get_mut("responses")
        .and_then(|r| r.get_mut("200"))
        .and_then(Value::as_mapping_mut)
    {
        let mut content = content(&[
            ("application/json", schema::RESPONSE),
            ("text/event-stream", schema::EVENT),
        ]);
        for (media, example) in [
            ("application/json", json_example()),
            ("text/event-stream", event_example()),
        ] {
            if let Some(Value::Mapping(media)) = content.get_mut(media) {
                media.insert("example".into(), yaml(&example));
            }
        }
        ok.insert("content".into(), content);
    }
}

/// Whether the component `name` is read from requests (`…Request`, `…Params`, `…Input`).
fn is_request_side(name: &str) -> bool {
    name.starts_with("ChatKit")
        && ["Request", "Params", "Input"]
            .iter()
            .any(|end| name.ends_with(end))
}

/// The protocol reads `null` for every optional field of a request (`T?`), and the parser does
/// (`Option<T>`). OpenAPI 3.0 cannot put `nullable` beside a `$ref`, so an optional request
/// property that is a bare reference gets a copy of its target, nullable (`null` added to an
/// enum's values, as 3.0.3 asks), instead of an `allOf` wrapper generators trip over.
fn nullable_optional_references(schemas: &mut Mapping) {
    let targets = schemas.clone();
    for (name, schema) in schemas.iter_mut() {
        if !name.as_str().is_some_and(is_request_side) {
            continue;
        }
        let required: Vec<Value> = schema
            .get("required")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        let Some(Value::Mapping(properties)) = schema.get_mut("properties") else {
            continue;
        };
        for (property, value) in properties.iter_mut() {
            let target = value
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|n| targets.get(n));
            let (false, Some(Value::Mapping(target))) = (required.contains(property), target)
            else {
                continue;
            };
            let mut copy = target.clone();
            copy.remove("title");
            copy.insert("nullable".into(), Value::Bool(true));
            if let Some(Value::Sequence(values)) = copy.get_mut("enum") {
                values.push(Value::Null);
            }
            *value = Value::Mapping(copy);
        }
    }
}

use super::examples::{ITEM, THREAD};

/// Named request examples, one per common operation.
fn request_examples() -> serde_json::Value {
    let input = json!({"content": [{"type": "input_text", "text": "What is an agent?"}],
                       "attachments": [], "inference_options": {"model": "teach"}});
    let example =
        |summary: &str, value: serde_json::Value| json!({"summary": summary, "value": value});
    json!({
        "threads.create": example("Start a thread (stream)",
            json!({"type": "threads.create", "params": {"input": input}})),
        "threads.add_user_message": example("Send a message (stream)",
            json!({"type": "threads.add_user_message",
                   "params": {"thread_id": THREAD, "input": input}})),
        "threads.list": example("List threads (JSON)",
            json!({"type": "threads.list", "params": {"limit": 20, "order": "desc"}})),
        "items.list": example("List a thread's items (JSON)",
            json!({"type": "items.list", "params": {"thread_id": THREAD, "limit": 20}})),
        "items.feedback": example("Rate a tutor message (JSON)",
            json!({"type": "items.feedback",
                   "params": {"thread_id": THREAD, "item_ids": [ITEM], "kind": "positive"}})),
    })
}

/// A `threads.list` answer.
fn json_example() -> serde_json::Value {
    json!({"data": [{"title": "What is an agent?", "id": THREAD,
                     "created_at": "2026-12-03T09:30:00Z", "status": {"type": "active"},
                     "metadata": {}, "items": {"data": [], "has_more": false}}],
           "has_more": false})
}

/// One event: a piece of the tutor's answer.
fn event_example() -> serde_json::Value {
    json!({"type": "thread.item.updated", "item_id": ITEM,
           "update": {"type": "assistant_message.content_part.text_delta", "content_index": 0,
                      "delta": "An agent decides"}})
}

fn yaml(value: &serde_json::Value) -> Value {
    serde_yaml::to_value(value).unwrap_or(Value::Null)
}

/// `content` with each media type's schema a bare reference to a component.
fn content(types: &[(&str, &str)]) -> Value {
    let mut content = Mapping::new();
    for (media, component) in types {
        let mut reference = Mapping::new();
        reference.insert(
            "$ref".into(),
            format!("#/components/schemas/{component}").into(),
        );
        let mut entry = Mapping::new();
        entry.insert("schema".into(), Value::Mapping(reference));
        content.insert((*media).into(), Value::Mapping(entry));
    }
    Value::Mapping(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(doc: &Value) -> &Value {
        &doc["paths"]["/chatkit"]["post"]
    }

    #[test]
    fn the_operation_refers_to_the_chatkit_components() {
        // Arrange
        let mut doc: Value = serde_yaml::from_str(&crate::http::spec_yaml()).unwrap();
        // Act: the published spec already went through the pass; run it on a fresh stub too.
        let mut stub: Value = serde_yaml::from_str(
            "paths: {/chatkit: {post: {description: x, requestBody: {content: {}}, \
             responses: {'200': {content: {}}}}}}\ncomponents: {schemas: {}}",
        )
        .unwrap();
        apply(&mut stub);
        // Assert
        for doc in [&mut doc, &mut stub] {
            let op = op(doc);
            assert_eq!(
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ChatKitRequest"
            );
            let ok = &op["responses"]["200"]["content"];
            assert_eq!(
                ok["text/event-stream"]["schema"]["$ref"],
                "#/components/schemas/ChatKitEvent"
            );
            assert_eq!(
                ok["application/json"]["schema"]["$ref"],
                "#/components/schemas/ChatKitResponse"
            );
            let described = op["description"].as_str().unwrap();
            assert!(described.contains("`input.transcribe`"), "{described}");
            assert!(doc["components"]["schemas"]["ChatKitThreadItemUpdatedEvent"].is_mapping());
        }
    }
}
