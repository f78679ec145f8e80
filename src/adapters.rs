//! Driven side of the hexagon: implementations of the domain ports over real infrastructure.
//!
//! Adapters never import each other; `bootstrap.rs` is the only place that knows them all.

pub mod redis;
pub mod sql;
