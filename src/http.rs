//! Driving side of the hexagon: HTTP routes, OpenAPI operations and the middleware stack.

pub mod admin;
pub mod auth;
pub mod chatkit;
pub mod error;
pub mod health;
pub mod lessons;
pub mod metrics;
pub mod middleware;
pub mod rate_limit;
pub mod root;
pub mod tags;
pub mod threads;

use std::sync::Arc;

use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::OpenApiService;

use crate::app::lessons::LessonService;
use crate::app::quota::QuotaService;
use crate::app::readiness::Readiness;
use crate::app::study::StudyService;
use crate::config::Config;
use metrics::Metrics;

/// Everything the HTTP layer needs from the composition root.
#[derive(Clone)]
pub struct AppState {
    /// Readiness use case.
    pub readiness: Readiness,
    /// Prometheus registry and HTTP instruments.
    pub metrics: Arc<Metrics>,
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Study-session use cases.
    pub study: Arc<StudyService>,
    /// Lesson use cases (cache, purge).
    pub lessons: Arc<LessonService>,
    /// Quotas.
    pub quotas: Arc<QuotaService>,
}

/// The OpenAPI operations of the service.
pub type Apis = (
    root::RootApi,
    health::HealthApi,
    chatkit::ChatKitApi,
    threads::ThreadsApi,
    lessons::LessonsApi,
    admin::AdminApi,
    rate_limit::QuotaApi,
);

/// Builds the OpenAPI service; `main`, the `openapi` command and the spec test share it.
pub fn api_service(apis: Apis) -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis, "Study Mode API", env!("CARGO_PKG_VERSION"))
        .description(
            "Backend of the Study Mode Socratic tutor: ChatKit protocol, lessons, study threads.",
        )
        .license(poem_openapi::LicenseObject::new("MIT"))
}

/// The spec as committed in `openapi/openapi.yaml`.
pub fn spec_yaml() -> String {
    api_service(apis_for_spec()).spec_yaml()
}

/// The spec as JSON.
pub fn spec_json() -> String {
    api_service(apis_for_spec()).spec()
}

fn apis_for_spec() -> Apis {
    let config = Config::from_vars(Vec::new()).expect("the default configuration is valid");
    let config = Arc::new(config);
    (
        root::RootApi,
        health::HealthApi::new(Readiness::default()),
        chatkit::ChatKitApi::new(None, config.clone()),
        threads::ThreadsApi::new(None, config.clone()),
        lessons::LessonsApi::new(None, config.clone()),
        admin::AdminApi::new(None, config.clone()),
        rate_limit::QuotaApi::new(config),
    )
}

/// The complete HTTP application with its middleware stack.
pub fn app(state: AppState) -> impl Endpoint + 'static {
    let api = api_service((
        root::RootApi,
        health::HealthApi::new(state.readiness.clone()),
        chatkit::ChatKitApi::new(Some(state.study.clone()), state.config.clone()),
        threads::ThreadsApi::new(Some(state.study.clone()), state.config.clone()),
        lessons::LessonsApi::new(Some(state.lessons.clone()), state.config.clone()),
        admin::AdminApi::new(Some(state.lessons.clone()), state.config.clone()),
        rate_limit::QuotaApi::new(state.config.clone()),
    ));
    let mut route = Route::new()
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .at("/metrics", get(metrics::scrape).data(state.metrics.clone()));
    if state.config.docs_enabled {
        route = route.nest("/docs", api.swagger_ui());
    }
    let route = route.nest("/", api).data(state.quotas.clone());
    with_middleware(route, &state.config, state.metrics.clone())
}

/// Wraps any endpoint in the service's middleware stack (outermost last): CORS, panic
/// catching, body limit, JSON errors, metrics, request id and access log.
pub fn with_middleware<E: Endpoint + 'static>(
    route: E,
    config: &Config,
    metrics: Arc<Metrics>,
) -> impl Endpoint + use<E> {
    let limit = config.max_body_bytes;
    route
        .around(rate_limit::headers)
        .with(cors(config))
        .with(CatchPanic::new().with_handler(middleware::panic_response))
        .around(move |ep, req| middleware::limit_body(ep, req, limit))
        .around(middleware::json_errors)
        .around(move |ep, req| metrics::track(ep, req, metrics.clone()))
        .around(middleware::request_id)
}

fn cors(config: &Config) -> Cors {
    let cors = Cors::new()
        .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "x-request-id",
            "x-api-key",
            "x-user-id",
            "if-none-match",
        ])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "etag",
        ])
        .max_age(600);
    if config.allowed_origins.iter().any(|o| o == "*") {
        cors
    } else {
        cors.allow_origins(config.allowed_origins.iter().map(String::as_str))
    }
}
