//! The ChatKit schemas of the published spec describe the wire: validators built from
//! `spec_json()` (its `#/components/schemas/ChatKit…`), used by the ChatKit test client on
//! every JSON answer and event of the suite, and a test that drives every served operation
//! once and shows the check is real.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

use crate::chatkit_client::{message, spawn_tutor_app};

/// The published `components`, with OpenAPI 3.0's `nullable` as JSON Schema's `null` type.
static COMPONENTS: LazyLock<Value> = LazyLock::new(|| {
    let spec: Value =
        serde_json::from_str(&study_mode_api::http::spec_json()).expect("the spec is JSON");
    let mut components = spec["components"].clone();
    nullable_to_null(&mut components);
    components
});

/// One validator per component, built on first use.
static VALIDATORS: LazyLock<Mutex<HashMap<String, &'static Validator>>> =
    LazyLock::new(Default::default);

fn nullable_to_null(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            if obj.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = obj.get("type").cloned() {
                    obj.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = obj.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            obj.values_mut().for_each(nullable_to_null);
        }
        Value::Array(list) => list.iter_mut().for_each(nullable_to_null),
        _ => {}
    }
}

/// The validator of `#/components/schemas/{component}`.
fn validator(component: &str) -> &'static Validator {
    let mut cache = VALIDATORS.lock().unwrap();
    if let Some(v) = cache.get(component) {
        return v;
    }
    assert!(
        COMPONENTS["schemas"].get(component).is_some(),
        "the spec has no component {component}"
    );
    let root = json!({
        "$ref": format!("#/components/schemas/{component}"),
        "components": *COMPONENTS,
    });
    let built = jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{component} compiles: {e}"));
    let leaked: &'static Validator = Box::leak(Box::new(built));
    cache.insert(component.to_string(), leaked);
    leaked
}

/// The reasons `value` is not a `component`, empty when it is one.
pub fn violations(component: &str, value: &Value) -> Vec<String> {
    validator(component)
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panics unless `value` is a valid `component`.
pub fn assert_valid(component: &str, value: &Value) {
    let found = violations(component, value);
    assert!(
        found.is_empty(),
        "not a valid {component}: {found:?}\n{value}"
    );
}

#[tokio::test]
async fn every_served_operation_answers_what_the_schema_says() {
    // Arrange: the client checks every answer and event as it reads them; the requests are
    // checked here.
    let app = spawn_tutor_app().await;
    let user = "schema-student";
    let send = |body: Value| {
        assert_valid("ChatKitRequest", &body);
        body
    };
    // Act + Assert, one operation after another.
    let (thread_id, events) = app.start_thread(user, "What is an agent?").await;
    let user_item = events[1]["item"]["id"].as_str().unwrap().to_string();
    app.send(user, &thread_id, "And its tools?").await;
    app.chatkit_stream(
        user,
        send(json!({"type":"threads.retry_after_item","params":{"thread_id":thread_id,"item_id":user_item}})),
        "",
    )
    .await;
    app.chatkit_stream(
        user,
        send(json!({"type":"threads.add_client_tool_output","params":{"thread_id":thread_id,"result":{"ok":true}}})),
        "",
    )
    .await;
    let events = app
        .chatkit_stream(
            user,
            send(json!({"type":"threads.custom_action","params":{"thread_id":thread_id,"action":{"type":"approve"}}})),
            "",
        )
        .await;
    assert_eq!(events.last().unwrap()["type"], "error");
    let (status, thread) = app
        .chatkit_json(
            user,
            send(json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}})),
        )
        .await;
    assert_eq!(status, 200);
    let assistant = thread["items"]["data"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app
        .chatkit_json(user, send(json!({"type":"threads.list","params":{"limit":1,"order":"asc"},"metadata":{"client":"test"}})))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .chatkit_json(
            user,
            send(
                json!({"type":"threads.update","params":{"thread_id":thread_id,"title":"Agents"}}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, page) = app
        .chatkit_json(
            user,
            send(json!({"type":"items.list","params":{"thread_id":thread_id,"limit":1}})),
        )
        .await;
    assert_eq!((status, page["has_more"].as_bool()), (200, Some(true)));
    let (status, _) = app
        .chatkit_json(user, send(json!({"type":"items.feedback","params":{"thread_id":thread_id,"item_ids":[assistant],"kind":"positive"}})))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .chatkit_json(
            user,
            send(json!({"type":"threads.delete","params":{"thread_id":thread_id}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, page) = app
        .chatkit_json(user, send(json!({"type":"threads.list","params":{}})))
        .await;
    assert_eq!((status, page), (200, json!({"data":[],"has_more":false})));
    // What the schema refuses, the server refuses: metadata is an object.
    let (status, body) = app
        .chatkit_json(
            user,
            json!({"type":"threads.list","params":{},"metadata":5}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request"))
    );
}

#[test]
fn the_published_examples_are_valid() {
    let spec: Value = serde_json::from_str(&study_mode_api::http::spec_json()).unwrap();
    let op = &spec["paths"]["/chatkit"]["post"];
    let requests = op["requestBody"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("request examples");
    assert!(requests.len() >= 3);
    for example in requests.values() {
        assert_valid("ChatKitRequest", &example["value"]);
    }
    let ok = &op["responses"]["200"]["content"];
    assert_valid("ChatKitResponse", &ok["application/json"]["example"]);
    assert_valid("ChatKitEvent", &ok["text/event-stream"]["example"]);
}

#[test]
fn wrong_events_answers_and_requests_fail_validation() {
    let part = json!({"annotations":[],"text":"","type":"output_text"});
    let good = json!({"type":"thread.item.updated","item_id":"msg_1","update":{"type":"assistant_message.content_part.added","content_index":0,"content":part}});
    assert_valid("ChatKitEvent", &good);
    // (the variant it claims to be, the event, a word of the variant's complaint)
    let wrong_events = [
        (
            "ChatKitThreadItemUpdatedEvent",
            json!({"type":"thread.item.updated","item_id":"msg_1","update":{"type":"assistant_message.content_part.removed","content_index":0}}),
            "oneOf",
        ),
        (
            "ChatKitAssistantMessageContentPartTextDeltaUpdate",
            json!({"type":"assistant_message.content_part.text_delta","content_index":0}),
            "delta",
        ),
        (
            "ChatKitThreadCreatedEvent",
            json!({"type":"thread.created","thread":{"title":null,"id":"thr_1","created_at":"2026-01-01T00:00:00Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}),
            "null",
        ),
        (
            "ChatKitThreadCreatedEvent",
            json!({"type":"thread.created","thread":{"id":"thr_1","created_at":"yesterday","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}),
            "date-time",
        ),
        (
            "ChatKitErrorEvent",
            json!({"type":"error","code":"boom","allow_retry":true}),
            "boom",
        ),
        (
            "ChatKitStreamOptionsEvent",
            json!({"type":"stream_options","stream_options":{}}),
            "allow_cancel",
        ),
    ];
    for (variant, event, complaint) in wrong_events {
        let found = violations(variant, &event).join("; ");
        assert!(found.contains(complaint), "{variant}: {found}");
        let wire = if variant.ends_with("Update") {
            json!({"type":"thread.item.updated","item_id":"msg_1","update":event})
        } else {
            event
        };
        assert!(!violations("ChatKitEvent", &wire).is_empty(), "{wire}");
    }
    assert!(
        !violations(
            "ChatKitEvent",
            &json!({"type":"progress_update","text":"…"})
        )
        .is_empty()
    );
    for answer in [
        json!({"data":[],"has_more":"no"}),
        json!({"ok":true}),
        json!({"data":[],"has_more":true,"after":null}),
    ] {
        assert!(
            !violations("ChatKitResponse", &answer).is_empty(),
            "{answer}"
        );
    }
    for request in [
        json!({"type":"threads.list"}),
        json!({"type":"attachments.create","params":{"name":"a.png","size":1,"mime_type":"image/png"}}),
        json!({"type":"threads.list","params":{"limit":101}}),
        json!({"type":"threads.update","params":{"thread_id":"thr_1","title":""}}),
        json!({"type":"threads.update","params":{"thread_id":"thr_1","title":"   "}}),
        json!({"type":"threads.update","params":{"thread_id":"thr_1","title":"a\u{7}b"}}),
        json!({"type":"threads.list","params":{},"metadata":5}),
        json!({"type":"threads.get_by_id","params":{"thread_id":"../etc"}}),
        json!({"type":"threads.list","params":{"after":"c1.a.b"}}),
        json!({"type":"threads.create","params":{"input":{"content":[{"type":"input_text","text":"a\u{0}"}],"attachments":[],"inference_options":{}}}}),
        json!({"type":"threads.create","params":{"input":{"content":[],"attachments":[],"inference_options":{}}}}),
        json!({"type":"threads.create","params":{"input":{"content":[{"type":"input_text","text":"hi"}],"attachments":["atc_1"],"inference_options":{}}}}),
    ] {
        assert!(
            !violations("ChatKitRequest", &request).is_empty(),
            "{request}"
        );
    }
    assert_valid(
        "ChatKitRequest",
        &json!({"type":"threads.create","params":{"input":message("hi")}}),
    );
    assert_valid(
        "ChatKitRequest",
        &json!({"type":"threads.update","params":{"thread_id":"thr_1","title":" Agents ✓ "}}),
    );
}
