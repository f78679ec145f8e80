//! The JSON schemas of `POST /chatkit`, generated from the types the server parses requests
//! with ([`super::request`]) and serialises answers and events with ([`super::wire`]), as
//! OpenAPI 3.0 components named `ChatKit…`.
//!
//! schemars derives the schemas; this module then makes them a contract generators accept:
//! tagged unions become `oneOf`s of named components with a `discriminator`, closed sets of
//! strings become `enum`s, `$ref`s stand bare, and a field the server leaves out instead of
//! sending `null` is optional, not nullable (request fields the parser also takes as `null`
//! stay nullable).

mod shape;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::{AddNullable, RemoveRefSiblings};
use serde_json::{Map, Value, json};

use super::request::ChatKitRequest;
use super::wire::{Empty, WireEvent, WireItem, WirePage, WireThread};
use crate::domain::bounds::MAX_METADATA_BYTES;

/// Prefix of every ChatKit component (the REST mirror has its own `ThreadOut`, `ItemPage`, …).
pub const PREFIX: &str = "ChatKit";
/// The request body: a `oneOf` of the served operations.
pub const REQUEST: &str = "ChatKitRequest";
/// A JSON answer: a thread, a page of threads, a page of items or `{}`.
pub const RESPONSE: &str = "ChatKitResponse";
/// One event of a stream (the JSON of one `data:` line).
pub const EVENT: &str = "ChatKitEvent";

/// Suffix of a request-side schema whose response-side namesake differs (what the parser takes
/// as `null` or leaves defaulted, the server never sends as `null` and always sends).
const INPUT_SUFFIX: &str = "Input";

/// Tagged unions (by their name without prefix) whose variants become components named
/// `ChatKit{Tag}{suffix}`, e.g. `thread.item.done` of `Event` → `ChatKitThreadItemDoneEvent`.
const UNIONS: &[(&str, &str)] = &[
    ("Request", "Request"),
    ("Event", "Event"),
    ("ItemUpdate", "Update"),
    ("Item", "Item"),
    ("UserContent", "Content"),
    ("ThreadStatus", "Status"),
];

/// Every ChatKit component schema, by name.
pub fn components() -> Map<String, Value> {
    let requests = {
        let mut generator = generator(false);
        generator.subschema_for::<ChatKitRequest>();
        generator.take_definitions(true)
    };
    let responses = {
        let mut generator = generator(true);
        generator.subschema_for::<WireEvent>();
        generator.subschema_for::<WireThread>();
        generator.subschema_for::<WirePage<WireThread>>();
        generator.subschema_for::<WirePage<WireItem>>();
        generator.subschema_for::<Empty>();
        generator.take_definitions(true)
    };
    let mut responses = prefixed(responses);
    shape::finish_all(&mut responses, true);
    let mut requests = requests;
    shape::finish_all(&mut requests, false);
    let mut all = responses.clone();
    all.extend(merged(requests, &responses));
    all.insert(RESPONSE.into(), response_schema());
    for (union, suffix) in UNIONS {
        for name in [
            format!("{PREFIX}{union}"),
            format!("{PREFIX}{union}{INPUT_SUFFIX}"),
        ] {
            let input = name.ends_with(INPUT_SUFFIX);
            let suffix = if input {
                format!("{suffix}{INPUT_SUFFIX}")
            } else {
                (*suffix).to_string()
            };
            shape::hoist_variants(&mut all, &name, &suffix);
        }
    }
    add_metadata(&mut all);
    all
}

/// A generator of OpenAPI 3.0 schemas under `#/components/schemas/` for what the server sends
/// (`serialize`) or parses. `nullable` and bare `$ref`s are made by [`shape`] instead of
/// schemars, which cannot tell a field left out from one sent as `null`.
fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::openapi3().with(|s| {
        s.transforms
            .retain(|t| !t.is::<AddNullable>() && !t.is::<RemoveRefSiblings>());
        s.meta_schema = None;
    });
    let settings = if serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    settings.into_generator()
}

/// `defs` renamed `ChatKit{name}`, their `$ref`s with them.
fn prefixed(defs: Map<String, Value>) -> Map<String, Value> {
    let names: Map<String, Value> = defs
        .keys()
        .map(|name| (name.clone(), Value::String(format!("{PREFIX}{name}"))))
        .collect();
    defs.into_iter()
        .map(|(name, mut schema)| {
            shape::rename_refs(&mut schema, &names);
            (format!("{PREFIX}{name}"), schema)
        })
        .collect()
}

/// The request-side `defs` renamed like [`prefixed`], to add to `responses`: one equal to its
/// response-side namesake is left out (that one serves both), one that differs is renamed
/// `ChatKit{name}Input`, and so, in turn, is every one that refers to it and has a namesake.
fn merged(defs: Map<String, Value>, responses: &Map<String, Value>) -> Map<String, Value> {
    let mut names: Map<String, Value> = defs
        .keys()
        .map(|name| (name.clone(), Value::String(format!("{PREFIX}{name}"))))
        .collect();
    loop {
        let mut changed = false;
        for (name, schema) in &defs {
            let mut schema = schema.clone();
            shape::rename_refs(&mut schema, &names);
            let new = names[name].as_str().unwrap_or_default().to_string();
            if !new.ends_with(INPUT_SUFFIX) && responses.get(&new).is_some_and(|r| *r != schema) {
                names.insert(name.clone(), Value::String(format!("{new}{INPUT_SUFFIX}")));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut out = Map::new();
    for (name, mut schema) in defs {
        shape::rename_refs(&mut schema, &names);
        let new = names[&name].as_str().unwrap_or_default().to_string();
        if responses.get(&new) != Some(&schema) {
            out.insert(new, schema);
        }
    }
    out
}

/// The JSON answers of the served operations.
fn response_schema() -> Value {
    json!({
        "description": "A JSON answer: `threads.get_by_id` and `threads.update` answer a thread, \
            `threads.list` a page of threads, `items.list` a page of items, `threads.delete` \
            and `items.feedback` `{}`. (`anyOf`: an empty page is a page of either kind.)",
        "anyOf": [
            {"$ref": format!("#/components/schemas/{PREFIX}Thread")},
            {"$ref": format!("#/components/schemas/{PREFIX}ThreadPage")},
            {"$ref": format!("#/components/schemas/{PREFIX}ItemPage")},
            {"$ref": format!("#/components/schemas/{PREFIX}Empty")},
        ],
    })
}

/// The envelope's optional `metadata`, on every request variant.
fn add_metadata(all: &mut Map<String, Value>) {
    let metadata = json!({
        "description": format!(
            "Integration metadata: accepted and ignored, at most {MAX_METADATA_BYTES} bytes \
             as JSON, no NUL in any string."
        ),
        "type": "object",
        "nullable": true,
    });
    let variants: Vec<String> = all[REQUEST]["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["$ref"].as_str())
        .filter_map(|r| r.rsplit('/').next())
        .map(str::to_string)
        .collect();
    for name in variants {
        if let Some(props) = all
            .get_mut(&name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        {
            props.insert("metadata".into(), metadata.clone());
        }
    }
}

#[cfg(test)]
mod tests;
