//! Passes that reshape what poem-openapi generates into forms every generator reads the same
//! way: bare references, one JSON media type, event streams typed per event.

use serde_yaml::{Mapping, Value};

/// The one JSON media type of the document (poem-openapi writes `application/json;
/// charset=utf-8`; the server accepts both and JSON is UTF-8 by definition).
pub const JSON: &str = "application/json";
const JSON_UTF8: &str = "application/json; charset=utf-8";
const EVENT_STREAM: &str = "text/event-stream";

/// Calls `f` on every mapping of `value`, depth first (children before their parent).
pub fn each_mapping(value: &mut Value, f: &mut impl FnMut(&mut Mapping)) {
    match value {
        Value::Mapping(map) => {
            for (_, child) in map.iter_mut() {
                each_mapping(child, f);
            }
            f(map);
        }
        Value::Sequence(items) => {
            for item in items {
                each_mapping(item, f);
            }
        }
        _ => {}
    }
}

/// `allOf: [{$ref}, {description, default, …}]` → `{$ref}`. OpenAPI 3.0 ignores siblings of a
/// `$ref`, and generators differ on the wrapper (one drops whole operations over it).
pub fn bare_refs(doc: &mut Value) {
    each_mapping(doc, &mut |map| {
        let reference = match map.get("allOf") {
            // Only annotations beside the reference: a part with properties is a real merge.
            Some(Value::Sequence(parts)) if parts.iter().all(|p| p.get("properties").is_none()) => {
                parts
                    .iter()
                    .filter_map(|p| p.get("$ref"))
                    .cloned()
                    .collect::<Vec<_>>()
            }
            _ => return,
        };
        let [reference] = reference.as_slice() else {
            return;
        };
        map.clear();
        map.insert("$ref".into(), reference.clone());
    });
}

const SCHEMAS: &str = "#/components/schemas/";

/// poem-openapi writes each variant of a discriminated union as a schema of its own,
/// `Union_Variant: allOf: [{type: object, properties: {type: {enum: [tag]}}}, {$ref: Variant}]`.
/// When `Variant` serves only that union, the tag property is merged into `Variant` itself and
/// the union refers to it directly: one flat object per event, which every generator reads.
pub fn flatten_union_variants(doc: &mut Value) {
    let mut uses: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    each_mapping(&mut doc.clone(), &mut |map| {
        if let Some(Value::String(target)) = map.get("$ref") {
            *uses.entry(target.clone()).or_default() += 1;
        }
    });
    let Some(Value::Mapping(schemas)) =
        doc.get_mut("components").and_then(|c| c.get_mut("schemas"))
    else {
        return;
    };
    let mut renames = Vec::new();
    let names: Vec<Value> = schemas.keys().cloned().collect();
    for name in names {
        let Some(Value::Sequence(parts)) = schemas.get(&name).and_then(|s| s.get("allOf")) else {
            continue;
        };
        let [Value::Mapping(tag), reference] = parts.as_slice() else {
            continue;
        };
        let Some(target) = reference
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(SCHEMAS))
            .map(str::to_owned)
        else {
            continue;
        };
        if uses.get(&format!("{SCHEMAS}{target}")) != Some(&1) {
            continue;
        }
        let tag = tag.clone();
        let Some(Value::Mapping(object)) = schemas.get_mut(target.as_str()) else {
            continue;
        };
        let mut merged = Mapping::new();
        for (key, value) in object.iter() {
            if key.as_str() != Some("properties") && key.as_str() != Some("required") {
                merged.insert(key.clone(), value.clone());
            }
        }
        let mut properties = tag.get("properties").cloned().unwrap_or_default();
        let mut required = tag.get("required").cloned().unwrap_or_default();
        if let (Value::Mapping(all), Some(Value::Mapping(own))) =
            (&mut properties, object.get("properties"))
        {
            all.extend(own.clone());
        }
        if let (Value::Sequence(all), Some(Value::Sequence(own))) =
            (&mut required, object.get("required"))
        {
            all.extend(own.iter().cloned());
        }
        merged.insert("required".into(), required);
        merged.insert("properties".into(), properties);
        *object = merged;
        schemas.remove(&name);
        if let Some(name) = name.as_str() {
            renames.push((format!("{SCHEMAS}{name}"), format!("{SCHEMAS}{target}")));
        }
    }
    each_mapping(doc, &mut |map| {
        for (_, value) in map.iter_mut() {
            if let Value::String(text) = value
                && let Some((_, to)) = renames.iter().find(|(from, _)| from == text)
            {
                *text = to.clone();
            }
        }
    });
}

/// Every `content` keyed `application/json; charset=utf-8` becomes `application/json`.
pub fn one_json_media_type(doc: &mut Value) {
    each_mapping(doc, &mut |map| {
        let Some(Value::Mapping(content)) = map.get_mut("content") else {
            return;
        };
        if let Some(media) = content.remove(JSON_UTF8) {
            content.insert(JSON.into(), media);
        }
    });
}

/// poem-openapi describes an event stream as `type: array, format: event-stream, items: E`;
/// the schema of a `text/event-stream` response is the event itself.
pub fn event_stream_items(doc: &mut Value) {
    each_mapping(doc, &mut |map| {
        let Some(Value::Mapping(content)) = map.get_mut("content") else {
            return;
        };
        let Some(Value::Mapping(media)) = content.get_mut(EVENT_STREAM) else {
            return;
        };
        let Some(schema) = media.get_mut("schema") else {
            return;
        };
        if schema.get("format").and_then(Value::as_str) == Some("event-stream")
            && let Some(items) = schema.get("items").cloned()
        {
            *schema = items;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn a_wrapped_reference_becomes_bare() {
        let mut doc = yaml("p:\n  description: d\n  allOf:\n  - $ref: '#/x'\n  - description: d\n");
        bare_refs(&mut doc);
        assert_eq!(doc, yaml("p:\n  $ref: '#/x'\n"));
    }

    #[test]
    fn an_all_of_of_two_references_is_kept() {
        let text = "p:\n  allOf:\n  - $ref: '#/x'\n  - $ref: '#/y'\n";
        let mut doc = yaml(text);
        bare_refs(&mut doc);
        assert_eq!(doc, yaml(text));
    }

    #[test]
    fn a_union_variant_becomes_one_flat_object() {
        let mut doc = yaml(concat!(
            "components:\n  schemas:\n",
            "    U:\n      oneOf:\n      - $ref: '#/components/schemas/U_A'\n",
            "      discriminator:\n        propertyName: type\n        mapping:\n          a: '#/components/schemas/U_A'\n",
            "    U_A:\n      allOf:\n      - type: object\n        required: [type]\n        properties:\n          type: {type: string, enum: [a]}\n      - $ref: '#/components/schemas/A'\n",
            "    A:\n      type: object\n      required: [x]\n      properties:\n        x: {type: string}\n",
        ));
        flatten_union_variants(&mut doc);
        assert_eq!(
            doc,
            yaml(concat!(
                "components:\n  schemas:\n",
                "    U:\n      oneOf:\n      - $ref: '#/components/schemas/A'\n",
                "      discriminator:\n        propertyName: type\n        mapping:\n          a: '#/components/schemas/A'\n",
                "    A:\n      type: object\n      required: [type, x]\n      properties:\n        type: {type: string, enum: [a]}\n        x: {type: string}\n",
            ))
        );
    }

    #[test]
    fn json_with_charset_becomes_plain_json() {
        let mut doc = yaml("content:\n  'application/json; charset=utf-8':\n    schema: {}\n");
        one_json_media_type(&mut doc);
        assert_eq!(doc, yaml("content:\n  application/json:\n    schema: {}\n"));
    }

    #[test]
    fn an_event_stream_schema_is_its_event() {
        let mut doc = yaml(
            "content:\n  text/event-stream:\n    schema:\n      type: array\n      format: event-stream\n      items:\n        $ref: '#/e'\n",
        );
        event_stream_items(&mut doc);
        assert_eq!(
            doc,
            yaml("content:\n  text/event-stream:\n    schema:\n      $ref: '#/e'\n")
        );
    }
}
