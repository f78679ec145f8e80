//! Study Mode API: the backend of a Socratic AI tutor speaking the ChatKit protocol.
//!
//! `domain` is the pure core, `app` the use cases, `adapters` the infrastructure, `http` the
//! driving side; `bootstrap` wires them from `config`, and `cli` is the command line.
#![forbid(unsafe_code)]
// The middleware stack is one nested type; computing the layout of its request future needs more
// than the default 128 levels once the server boxes it (http/server.rs).
#![recursion_limit = "256"]

pub mod adapters;
pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod domain;
pub mod flight;
pub mod http;
pub mod telemetry;
pub mod wait_budget;
