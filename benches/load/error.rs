//! The harness' one error type: what went wrong while setting up or running a measurement.

use std::io;

/// Why the harness could not produce its figures.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Options that cannot work together or values out of range.
    #[error("invalid options: {0}")]
    Options(String),
    /// A child process (service, hello server, worker) could not be started or answered wrongly.
    #[error("{what}: {detail}")]
    Child {
        /// Which child.
        what: &'static str,
        /// What happened.
        detail: String,
    },
    /// The service answered a set-up request (precheck, seeding) unexpectedly.
    #[error("set-up request {what} failed: {detail}")]
    Setup {
        /// Which request.
        what: String,
        /// Status and body, or the transport error.
        detail: String,
    },
    /// Postgres could not give a fresh database.
    #[error("Postgres: {0}")]
    Database(String),
    /// Signing a token or reading the test key failed.
    #[error("JWT: {0}")]
    Jwt(String),
    /// Writing the report or a chart failed.
    #[error("report: {0}")]
    Report(String),
    /// Local I/O.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

impl HarnessError {
    /// A child-process failure.
    pub fn child(what: &'static str, detail: impl ToString) -> Self {
        Self::Child {
            what,
            detail: detail.to_string(),
        }
    }

    /// A set-up request failure.
    pub fn setup(what: impl ToString, detail: impl ToString) -> Self {
        Self::Setup {
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}
