//! Pure core of the hexagon: entities, value objects, rules and the port traits.
//!
//! Nothing in here performs I/O or imports an I/O crate; `tests/architecture.rs` enforces it.

pub mod api_key;
pub mod book;
pub mod bounds;
pub mod circuit_breaker;
pub mod cursor;
pub mod grounding;
pub mod identity;
pub mod learning;
pub mod lesson;
pub mod marker;
pub mod ports;
pub mod principal;
pub mod progress;
pub mod prompt;
pub mod rate_limit;
pub mod search;
pub mod sliding_log;
pub mod suggestions;
pub mod sync;
pub mod teach;
pub mod thread;
pub mod title;
pub mod token_budget;
pub mod tutor;
