//! Black-box tests of the service over a real socket: one binary, one module per feature.

mod auth;
mod bodies;
mod chatkit;
mod chatkit_client;
mod chatkit_schema;
mod cli;
#[cfg(feature = "containers")]
mod containers;
mod edge;
mod errors;
mod fake_github;
mod fake_model;
mod fake_oauth;
mod fake_sso;
mod health;
mod helpers;
mod lesson_cache;
mod lessons;
mod limits;
mod oauth;
mod openapi;
mod paging;
mod postgres;
mod progress;
mod proxy;
mod quiz;
mod quotas;
mod rate_limiter;
mod redis;
mod redis_outage;
mod rest;
mod shutdown;
mod signin;
mod store;
mod turn_lock;
mod tutoring;
