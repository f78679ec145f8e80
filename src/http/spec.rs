//! The OpenAPI document as published: poem-openapi's generated document, then a fixed list of
//! passes that make it a contract generators and fuzzers accept as is (security schemes, bare
//! references, typed streams, the typed ChatKit endpoint, …). Each pass is a function over the
//! document, in its own module, with its own tests.

pub mod chatkit;

use serde_yaml::Value;

/// Applies every pass to `doc` (the generated document), in order.
pub fn finish(doc: &mut Value) {
    chatkit::apply(doc);
}
