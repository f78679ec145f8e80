//! Black-box tests of the service over a real socket: one binary, one module per feature.

mod cli;
mod errors;
mod health;
mod helpers;
mod openapi;
mod postgres;
mod proxy;
mod redis;
mod store;
