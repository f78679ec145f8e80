use std::collections::BTreeSet;

use super::*;

/// Every value under `key` anywhere in `v`.
fn all_of_key<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(obj) => {
            if let Some(found) = obj.get(key) {
                out.push(found);
            }
            obj.values().for_each(|v| all_of_key(v, key, out));
        }
        Value::Array(list) => list.iter().for_each(|v| all_of_key(v, key, out)),
        _ => {}
    }
}

/// The names of the components `name` refers to, transitively, itself included.
fn closure(all: &Map<String, Value>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(next) = todo.pop() {
        if !seen.insert(next.clone()) {
            continue;
        }
        let mut refs = Vec::new();
        all_of_key(&all[&next], "$ref", &mut refs);
        for r in refs {
            let target = r
                .as_str()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            todo.push(target.to_string());
        }
    }
    seen
}

#[test]
fn every_reference_resolves_and_stands_bare() {
    let all = components();
    for (name, schema) in &all {
        assert!(name.starts_with(PREFIX), "{name}");
        let mut refs = Vec::new();
        all_of_key(schema, "$ref", &mut refs);
        for r in refs {
            let target = r
                .as_str()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            assert!(all.contains_key(target), "{name} → {target}");
        }
        let text = schema.to_string();
        assert!(!text.contains("\"allOf\""), "{name}: {text}");
        assert!(!text.contains("\"const\""), "{name}: {text}");
    }
}

#[test]
fn every_component_and_field_is_described() {
    for (name, schema) in &components() {
        assert!(schema["description"].is_string(), "{name}");
        for (field, prop) in schema["properties"].as_object().into_iter().flatten() {
            assert!(
                prop.get("$ref").is_some() || prop["description"].is_string(),
                "{name}.{field}: {prop}"
            );
        }
    }
}

#[test]
fn tagged_unions_are_discriminated_one_ofs_of_references() {
    let all = components();
    for union in [
        REQUEST,
        EVENT,
        "ChatKitItemUpdate",
        "ChatKitItem",
        "ChatKitUserContent",
    ] {
        let schema = &all[union];
        let variants = schema["oneOf"].as_array().unwrap();
        let mapping = schema["discriminator"]["mapping"].as_object().unwrap();
        assert_eq!(schema["discriminator"]["propertyName"], "type");
        assert_eq!(variants.len(), mapping.len(), "{union}");
        for (tag, target) in mapping {
            assert!(
                variants.contains(&json!({ "$ref": target })),
                "{union}: {tag}"
            );
            let name = target.as_str().unwrap().rsplit('/').next().unwrap();
            assert_eq!(all[name]["properties"]["type"]["enum"], json!([tag]));
            assert!(
                all[name]["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("type"))
            );
        }
    }
    let served: Vec<&str> = all[REQUEST]["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = ChatKitRequest::OPERATIONS.to_vec();
    expected.sort_unstable();
    assert_eq!(served, expected);
}

#[test]
fn what_the_server_sends_is_never_null() {
    let all = components();
    let mut sent = closure(&all, EVENT);
    sent.extend(closure(&all, RESPONSE));
    for name in sent {
        let text = all[&name].to_string();
        assert!(!text.contains("nullable"), "{name}: {text}");
        assert!(!name.ends_with(INPUT_SUFFIX), "{name} is request-side");
    }
}

#[test]
fn closed_sets_are_enums() {
    let all = components();
    assert_eq!(all["ChatKitOrder"]["enum"], json!(["asc", "desc"]));
    assert_eq!(
        all["ChatKitFeedbackKind"]["enum"],
        json!(["positive", "negative"])
    );
    assert_eq!(
        all["ChatKitErrorCode"]["enum"],
        json!(["stream.error", "custom"])
    );
    assert_eq!(all["ChatKitOutputTextType"]["enum"], json!(["output_text"]));
}

#[test]
fn request_constraints_are_the_checked_ones() {
    use crate::app::study::{MAX_MESSAGE_CHARS, MAX_TITLE_CHARS};
    use crate::domain::thread::{MAX_PAGE_SIZE, MAX_PART_CHARS};
    assert_eq!(MAX_PART_CHARS, MAX_MESSAGE_CHARS);
    let all = components();
    let list = &all["ChatKitListParams"]["properties"];
    assert_eq!(list["limit"]["maximum"], json!(MAX_PAGE_SIZE));
    assert_eq!(list["limit"]["nullable"], json!(true));
    let title = &all["ChatKitUpdateParams"]["properties"]["title"];
    assert_eq!(title["maxLength"], json!(MAX_TITLE_CHARS));
    let message = &all["ChatKitUserMessageInput"]["properties"];
    assert_eq!(message["attachments"]["maxItems"], json!(0));
    let text = &all["ChatKitInputTextContentInput"]["properties"]["text"];
    assert_eq!(text["maxLength"], json!(MAX_MESSAGE_CHARS));
}
