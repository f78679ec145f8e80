//! Black-box tests of the service over a real socket: one binary, one module per feature.

mod chatkit;
mod chatkit_client;
mod cli;
mod errors;
mod fake_model;
mod health;
mod helpers;
mod openapi;
mod postgres;
mod proxy;
mod redis;
mod store;
mod tutoring;
