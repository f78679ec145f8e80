//! `GET /health` (liveness, no I/O) and `GET /health/ready` (every dependency, with latency).

use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};

use super::error::InternalError;
use super::tags::ApiTags;
use crate::app::readiness::{Readiness, Verdict};

/// Liveness answer.
#[derive(Debug, Object)]
pub struct Liveness {
    /// Always `ok` while the process serves requests.
    pub status: String,
    /// Version of the running build.
    pub version: String,
}

/// State of the whole replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Status {
    /// Everything answers.
    Ok,
    /// Optional dependencies are down; the replica still serves.
    Degraded,
    /// A required dependency is down.
    Unavailable,
}

/// State of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DependencyState {
    /// It answered.
    Up,
    /// It did not answer.
    Down,
}

/// One dependency in the readiness report.
#[derive(Debug, Object)]
pub struct DependencyStatus {
    /// Dependency name (`database`, `redis`).
    pub name: String,
    /// Whether it answered.
    pub status: DependencyState,
    /// Whether the replica is unready without it.
    pub required: bool,
    /// Round-trip time of the check.
    pub latency_ms: u64,
    /// Short reason when down (never a secret or a raw driver message).
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// Readiness report.
#[derive(Debug, Object)]
pub struct ReadinessReport {
    /// `ok`, `degraded` or `unavailable`.
    pub status: Status,
    /// Version of the running build.
    pub version: String,
    /// One entry per configured dependency.
    pub checks: Vec<DependencyStatus>,
}

/// Answer of `GET /health`.
#[derive(ApiResponse)]
pub enum LivenessResponse {
    /// The process is alive.
    #[oai(status = 200)]
    Ok(Json<Liveness>),
}

/// Answer of `GET /health/ready`.
#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Ready (possibly degraded: optional dependencies down).
    #[oai(status = 200)]
    Ready(Json<ReadinessReport>),
    /// A required dependency (the database) is down.
    #[oai(status = 503)]
    Unavailable(Json<ReadinessReport>),
}

/// Health probes.
pub struct HealthApi {
    readiness: Readiness,
}

impl HealthApi {
    /// Probes over the given readiness use case.
    pub fn new(readiness: Readiness) -> Self {
        Self { readiness }
    }
}

#[OpenApi(
    tag = "ApiTags::Health",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl HealthApi {
    /// Liveness probe
    ///
    /// Answers without touching any dependency: a 200 means the process serves requests.
    #[oai(path = "/health", method = "get", operation_id = "getLiveness")]
    async fn live(&self) -> Result<LivenessResponse, InternalError> {
        Ok(LivenessResponse::Ok(Json(Liveness {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })))
    }

    /// Readiness probe
    ///
    /// Checks every configured dependency (each bounded to 2 s). 503 when the database is down;
    /// 200 with `"status":"degraded"` when only Redis is down.
    #[oai(path = "/health/ready", method = "get", operation_id = "getReadiness")]
    async fn ready(&self) -> Result<ReadinessResponse, InternalError> {
        let report = self.readiness.check().await;
        let body = ReadinessReport {
            status: match report.verdict {
                Verdict::Ok => Status::Ok,
                Verdict::Degraded => Status::Degraded,
                Verdict::Unavailable => Status::Unavailable,
            },
            version: env!("CARGO_PKG_VERSION").into(),
            checks: report
                .checks
                .into_iter()
                .map(|c| DependencyStatus {
                    name: c.name.into(),
                    status: if c.up {
                        DependencyState::Up
                    } else {
                        DependencyState::Down
                    },
                    required: c.required,
                    latency_ms: c.latency_ms,
                    error: c.error,
                })
                .collect(),
        };
        Ok(match report.verdict {
            Verdict::Unavailable => ReadinessResponse::Unavailable(Json(body)),
            _ => ReadinessResponse::Ready(Json(body)),
        })
    }
}
