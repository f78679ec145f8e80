//! `GET /`: what this service is and where to go next.

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::error::InternalError;
use super::tags::ApiTags;

/// Links a client or a person can follow.
#[derive(Debug, Object)]
pub struct Links {
    /// Liveness probe.
    pub health: String,
    /// Readiness probe.
    pub ready: String,
    /// OpenAPI document (JSON).
    pub openapi: String,
    /// Interactive documentation, when enabled.
    pub docs: String,
    /// Prometheus metrics.
    pub metrics: String,
}

/// Service identity.
#[derive(Debug, Object)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// Version of the running build.
    pub version: String,
    /// Where to go next.
    pub links: Links,
}

/// Answer of `GET /`.
#[derive(ApiResponse)]
pub enum InfoResponse {
    /// Name, version and links.
    #[oai(status = 200)]
    Ok(Json<ServiceInfo>),
}

/// The root resource.
pub struct RootApi;

#[OpenApi(
    tag = "ApiTags::Meta",
    response_header(
        name = "X-Request-Id",
        ty = "String",
        description = "Request id, echoed or generated"
    )
)]
impl RootApi {
    /// Service name, version and links
    ///
    /// A cheap landing document for people and scripts poking at the service.
    #[oai(path = "/", method = "get", operation_id = "getServiceInfo")]
    async fn info(&self) -> Result<InfoResponse, InternalError> {
        Ok(InfoResponse::Ok(Json(ServiceInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            links: Links {
                health: "/health".into(),
                ready: "/health/ready".into(),
                openapi: "/openapi.json".into(),
                docs: "/docs".into(),
                metrics: "/metrics".into(),
            },
        })))
    }
}
