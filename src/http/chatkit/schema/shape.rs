//! Rewrites of generated schemas (plain JSON) into the OpenAPI 3.0 shapes generators accept.

use serde_json::{Map, Value, json};

/// Keys of a schema whose values are schemas.
const SUBSCHEMA_KEYS: &[&str] = &["items", "additionalProperties", "not"];
/// Keys of a schema whose values are lists of schemas.
const SUBSCHEMA_LISTS: &[&str] = &["oneOf", "anyOf", "allOf"];

/// Applies [`finish`] to every schema of `defs`.
pub fn finish_all(defs: &mut Map<String, Value>, serialize: bool) {
    for schema in defs.values_mut() {
        finish(schema, serialize);
    }
}

/// Rewrites `schema` and its subschemas, innermost first: optional fields (see
/// [`optional_fields`]), `nullable` for `type: [T, "null"]`, `enum`s for `oneOf`s of constants,
/// flattened enums spread into their variants, bare `$ref`s, no `default: null`.
pub fn finish(schema: &mut Value, serialize: bool) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in SUBSCHEMA_KEYS {
        if let Some(sub) = obj.get_mut(*key) {
            finish(sub, serialize);
        }
    }
    for key in SUBSCHEMA_LISTS {
        for sub in obj
            .get_mut(*key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            finish(sub, serialize);
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for sub in props.values_mut() {
            finish(sub, serialize);
        }
    }
    optional_fields(obj, serialize);
    nullable(obj);
    constants_to_enum(obj);
    spread_flattened(obj);
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
    if let Some(target) = obj.get("$ref").cloned() {
        obj.clear();
        obj.insert("$ref".into(), target);
    }
}

/// A field that is not required: in what the server sends it is left out, never `null`, so
/// `null` leaves its schema; in what it parses, an `Option` of a `$ref` becomes the bare
/// `$ref` (OpenAPI 3.0 has no nullable reference without an `allOf` wrapper; `null` is still
/// taken as absent).
fn optional_fields(obj: &mut Map<String, Value>, serialize: bool) {
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if let Some(inner) = non_null_branch(prop) {
            *prop = inner;
        }
        if serialize && let Some(p) = prop.as_object_mut() {
            p.remove("nullable");
            if let Some(Value::Array(types)) = p.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    p.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(values)) = p.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
        }
    }
}

/// `X` of `{"anyOf": [X, {"type": "null"}]}` (an `Option<X>` schemars made), with the
/// description kept when `X` is not a `$ref`.
fn non_null_branch(prop: &Value) -> Option<Value> {
    let branches = prop.get("anyOf")?.as_array()?;
    if branches.len() != 2 {
        return None;
    }
    let is_null = |b: &Value| b.get("type") == Some(&json!("null"));
    let mut inner = branches.iter().find(|b| !is_null(b))?.clone();
    if !branches.iter().any(is_null) {
        return None;
    }
    if let (Some(i), Some(desc)) = (inner.as_object_mut(), prop.get("description"))
        && !i.contains_key("$ref")
    {
        i.insert("description".into(), desc.clone());
    }
    Some(inner)
}

/// `type: [T, "null"]` → `type: T, nullable: true` (OpenAPI 3.0).
fn nullable(obj: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = obj.get_mut("type") else {
        return;
    };
    if !types.iter().any(|t| t == "null") {
        return;
    }
    types.retain(|t| t != "null");
    let only = (types.len() == 1).then(|| types[0].clone());
    if let Some(only) = only {
        obj.insert("type".into(), only);
    }
    obj.insert("nullable".into(), Value::Bool(true));
}

/// A `oneOf` of one-value string `enum`s (a Rust enum of unit variants with docs) → one
/// `enum`, the variants' docs joined into the description.
fn constants_to_enum(obj: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = obj.get("oneOf") else {
        return;
    };
    let mut values = Vec::new();
    let mut docs = Vec::new();
    for b in branches {
        let one = b
            .get("enum")
            .and_then(Value::as_array)
            .filter(|e| e.len() == 1)
            .and_then(|e| e[0].as_str());
        let Some(value) = one else {
            return;
        };
        if b.get("properties").is_some() {
            return;
        }
        if let Some(doc) = b.get("description").and_then(Value::as_str) {
            docs.push(format!("`{value}`: {doc}"));
        }
        values.push(Value::String(value.to_string()));
    }
    obj.remove("oneOf");
    obj.insert("type".into(), json!("string"));
    obj.insert("enum".into(), Value::Array(values));
    if !docs.is_empty() {
        let desc = match obj.get("description").and_then(Value::as_str) {
            Some(d) => format!("{d}\n\n{}", docs.join("\n")),
            None => docs.join("\n"),
        };
        obj.insert("description".into(), Value::String(desc));
    }
}

/// An object with both `properties` and a `oneOf` of objects (a struct with a flattened tagged
/// enum) → a `oneOf` whose variants each carry the shared properties first.
fn spread_flattened(obj: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = obj.get("oneOf") else {
        return;
    };
    if !obj.contains_key("properties") || !branches.iter().all(|b| b.get("properties").is_some()) {
        return;
    }
    let base_props = obj.remove("properties").unwrap_or_default();
    let base_req = obj.remove("required").unwrap_or_else(|| json!([]));
    obj.remove("type");
    obj.remove("additionalProperties");
    let Some(Value::Array(branches)) = obj.get_mut("oneOf") else {
        return;
    };
    for b in branches.iter_mut() {
        let Some(branch) = b.as_object_mut() else {
            continue;
        };
        let mut props = base_props.as_object().cloned().unwrap_or_default();
        if let Some(Value::Object(own)) = branch.remove("properties") {
            props.extend(own);
        }
        let mut req = base_req.as_array().cloned().unwrap_or_default();
        if let Some(Value::Array(own)) = branch.remove("required") {
            req.extend(own);
        }
        branch.insert("type".into(), json!("object"));
        branch.insert("properties".into(), Value::Object(props));
        branch.insert("required".into(), Value::Array(req));
    }
}

/// Renames every `#/components/schemas/{old}` reference in `schema` per `names` (old → new).
pub fn rename_refs(schema: &mut Value, names: &Map<String, Value>) {
    match schema {
        Value::Object(obj) => {
            if let Some(Value::String(target)) = obj.get_mut("$ref")
                && let Some(old) = target.strip_prefix("#/components/schemas/")
                && let Some(Value::String(new)) = names.get(old)
            {
                *target = format!("#/components/schemas/{new}");
            }
            for v in obj.values_mut() {
                rename_refs(v, names);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| rename_refs(v, names)),
        _ => {}
    }
}

/// Makes each inline variant of the tagged union `name` (a `oneOf` of objects whose `type` is
/// one constant) a component `{prefix}{Tag}{suffix}`, and the union a `oneOf` of references
/// with a `discriminator` on `type`.
pub fn hoist_variants(all: &mut Map<String, Value>, name: &str, suffix: &str) {
    let prefix = super::PREFIX;
    let Some(Value::Array(branches)) = all.get(name).and_then(|s| s.get("oneOf")).cloned() else {
        return;
    };
    let mut refs = Vec::new();
    let mut mapping = Map::new();
    let mut hoisted = Vec::new();
    for mut branch in branches {
        let Some(tag) = branch
            .pointer("/properties/type/enum/0")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return;
        };
        if let Some(t) = branch
            .pointer_mut("/properties/type")
            .and_then(Value::as_object_mut)
        {
            t.insert("description".into(), json!(format!("Always `{tag}`.")));
        }
        let component = format!("{prefix}{}{suffix}", pascal(&tag));
        let target = format!("#/components/schemas/{component}");
        refs.push(json!({ "$ref": target }));
        mapping.insert(tag, Value::String(target));
        hoisted.push((component, branch));
    }
    for (component, branch) in hoisted {
        all.insert(component, branch);
    }
    if let Some(union) = all.get_mut(name).and_then(Value::as_object_mut) {
        union.remove("type");
        union.insert("oneOf".into(), Value::Array(refs));
        union.insert(
            "discriminator".into(),
            json!({ "propertyName": "type", "mapping": mapping }),
        );
    }
}

/// `thread.item.done` → `ThreadItemDone`.
fn pascal(tag: &str) -> String {
    tag.split(['.', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
