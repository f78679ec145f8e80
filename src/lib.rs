//! Study Mode API: the backend of a Socratic AI tutor speaking the ChatKit protocol.
//!
//! `domain` is the pure core, `app` the use cases, `adapters` the infrastructure, `http` the
//! driving side; `bootstrap` wires them from `config`, and `cli` is the command line.
#![forbid(unsafe_code)]

pub mod adapters;
pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod telemetry;
