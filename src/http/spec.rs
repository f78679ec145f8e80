//! The OpenAPI document as published: poem-openapi's generated document, then a fixed list of
//! passes that make it a contract generators and fuzzers accept as is (security schemes, bare
//! references, typed streams, the typed ChatKit endpoint, …). Each pass is a function over the
//! document, in its own module, with its own tests.

pub mod chatkit;
pub mod constraints;
pub mod examples;
pub mod operations;
pub mod shape;

use serde_yaml::{Mapping, Value};

/// Applies every pass to `doc` (the generated document), in order; `base_url` is where clients
/// reach the service (`PUBLIC_BASE_URL`).
pub fn finish(doc: &mut Value, base_url: &str) {
    chatkit::apply(doc);
    shape::flatten_union_variants(doc);
    shape::bare_refs(doc);
    shape::one_json_media_type(doc);
    shape::event_stream_items(doc);
    operations::apply(doc, |path| {
        super::auth::requirement(path) == super::auth::Requirement::Public
    });
    constraints::apply(doc);
    examples::apply(doc);
    servers(doc, base_url);
}

/// `servers`: the one base URL clients use.
fn servers(doc: &mut Value, base_url: &str) {
    let mut server = Mapping::new();
    server.insert("url".into(), base_url.into());
    server.insert(
        "description".into(),
        "This deployment (`PUBLIC_BASE_URL`).".into(),
    );
    if let Value::Mapping(root) = doc {
        root.insert(
            "servers".into(),
            Value::Sequence(vec![Value::Mapping(server)]),
        );
    }
}
