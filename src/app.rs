//! Use cases: what the service does, expressed over the domain's ports only.

pub mod account;
pub mod auth;
pub mod budget;
pub mod identity;
pub mod learning;
pub mod lessons;
pub mod preauth;
pub mod quota;
pub mod readiness;
pub mod search;
pub mod study;
pub mod sync;
