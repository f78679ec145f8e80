//! Driving side of the hexagon: HTTP routes, OpenAPI operations and the middleware stack.

pub mod admin;
pub mod allow;
pub mod auth;
pub mod chatkit;
pub mod client;
pub mod error;
pub mod headers;
pub mod health;
pub mod identity;
pub mod learning;
pub mod lessons;
pub mod listener;
pub mod metrics;
pub mod middleware;
pub mod prebuilt;
pub mod rate_limit;
pub mod root;
pub mod search;
pub mod server;
pub mod spec;
pub mod sync;
pub mod tags;
pub mod threads;

use std::sync::Arc;

use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::OpenApiService;

use crate::app::auth::Authenticator;
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
    /// Authentication.
    pub authenticator: Arc<Authenticator>,
    /// The own sign-in, when the service issues tokens.
    pub identity: Option<Arc<crate::app::identity::IdentityService>>,
    /// Export and erasure of the caller's data.
    pub account: Arc<crate::app::account::AccountService>,
    /// The book sync: runs, progress, the synced book.
    pub sync: Arc<crate::app::sync::SyncService>,
    /// Learner progress and question analytics.
    pub learning: Arc<crate::app::learning::LearningService>,
    /// Search of the synced book.
    pub search: Arc<crate::app::search::SearchService>,
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
    identity::IdentityApi,
    identity::MeApi,
    sync::SyncApi,
    learning::LearningApi,
    search::SearchApi,
);

/// Builds the OpenAPI service; `main`, the `openapi` command and the spec test share it.
pub fn api_service(apis: Apis) -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis, "Study Mode API", env!("CARGO_PKG_VERSION"))
        .description(
            "Backend of the Study Mode Socratic tutor: ChatKit protocol, lessons, study threads.",
        )
        .license(poem_openapi::LicenseObject::new("MIT").url("https://opensource.org/licenses/MIT"))
}

/// The published spec of `service` (the generated document after [`spec::finish`]), as
/// `(json, yaml)`.
fn documents(service: &OpenApiService<Apis, ()>, base_url: &str) -> (String, String) {
    let generated = service.spec();
    match auth::spec::with_security(&generated) {
        Ok(mut doc) => {
            spec::finish(&mut doc, base_url);
            (
                serde_json::to_string_pretty(&doc).unwrap_or_else(|_| generated.clone()),
                serde_yaml::to_string(&doc).unwrap_or_else(|_| service.spec_yaml()),
            )
        }
        // Unreachable in practice: poem-openapi always emits JSON.
        Err(_) => (generated, service.spec_yaml()),
    }
}

/// The spec as committed in `openapi/openapi.yaml`.
pub fn spec_yaml() -> String {
    documents(
        &api_service(apis_for_spec()),
        &default_config().public_base_url,
    )
    .1
}

/// The spec as JSON.
pub fn spec_json() -> String {
    documents(
        &api_service(apis_for_spec()),
        &default_config().public_base_url,
    )
    .0
}

fn serve_document(body: String, content_type: &'static str) -> impl Endpoint + 'static {
    let body = bytes::Bytes::from(body);
    poem::endpoint::make(move |_| {
        let body = body.clone();
        async move {
            poem::Response::builder()
                .content_type(content_type)
                .body(body)
        }
    })
}

fn default_config() -> Config {
    Config::from_vars(Vec::new()).expect("the default configuration is valid")
}

fn apis_for_spec() -> Apis {
    let config = Arc::new(default_config());
    (
        root::RootApi,
        health::HealthApi::new(Readiness::default()),
        chatkit::ChatKitApi::new(None),
        threads::ThreadsApi::new(None),
        lessons::LessonsApi::new(None, config.clone()),
        admin::AdminApi::new(None, config.clone()),
        rate_limit::QuotaApi::new(),
        identity::IdentityApi::new(None, config.clone()),
        identity::MeApi::new(None, None),
        sync::SyncApi::new(None),
        learning::LearningApi::new(None),
        search::SearchApi::new(None),
    )
}

/// The complete HTTP application with its middleware stack.
pub fn app(state: AppState) -> impl Endpoint + 'static {
    let api = api_service((
        root::RootApi,
        health::HealthApi::new(state.readiness.clone()),
        chatkit::ChatKitApi::new(Some(state.study.clone())),
        threads::ThreadsApi::new(Some(state.study.clone())),
        lessons::LessonsApi::new(Some(state.lessons.clone()), state.config.clone()),
        admin::AdminApi::new(Some(state.lessons.clone()), state.config.clone())
            .with_sync(state.sync.clone()),
        rate_limit::QuotaApi::new(),
        identity::IdentityApi::new(state.identity.clone(), state.config.clone()),
        identity::MeApi::new(Some(state.account.clone()), state.identity.clone()),
        sync::SyncApi::new(Some(state.sync.clone())),
        learning::LearningApi::new(Some(state.learning.clone())),
        search::SearchApi::new(Some(state.search.clone())),
    ));
    // Rendered once at start-up, not per request.
    let (json, yaml) = documents(&api, &state.config.public_base_url);
    let allow = Arc::new(allow::AllowTable::new(
        &json,
        &[
            ("/openapi.json", &["GET"]),
            ("/openapi.yaml", &["GET"]),
            ("/metrics", &["GET"]),
        ],
    ));
    let mut route = Route::new()
        .at(
            "/openapi.json",
            get(serve_document(json, "application/json")),
        )
        .at(
            "/openapi.yaml",
            get(serve_document(yaml, "application/x-yaml")),
        )
        .at("/metrics", get(metrics::scrape).data(state.metrics.clone()));
    if state.config.docs_enabled {
        route = route.nest("/docs", api.swagger_ui());
    }
    let auth = auth::AuthState {
        authenticator: state.authenticator.clone(),
        config: state.config.clone(),
    };
    let route = route
        .nest("/", api)
        .data(state.quotas.clone())
        .data(state.study.budget().cloned());
    let route = auth::protect(route, auth);
    with_middleware(route, &state.config, state.metrics.clone())
        .around(move |ep, req| allow::on_405(ep, req, allow.clone()))
}

/// Wraps any endpoint in the service's middleware stack (outermost last): the database wait
/// budget, rate-limit headers, CORS, panic catching, body limit, JSON errors, metrics, and
/// request id with access log and the headers every answer carries (security, caching, HSTS).
pub fn with_middleware<E: Endpoint + 'static>(
    route: E,
    config: &Config,
    metrics: Arc<Metrics>,
) -> impl Endpoint + use<E> {
    let limit = config.max_body_bytes;
    let body_timeout = config.http.body_read_timeout;
    let policy = Arc::new(headers::HeaderPolicy::new(config.http.hsts_max_age));
    route
        .around(middleware::db_wait_budget)
        .around(rate_limit::headers)
        .with(cors(config))
        .with(CatchPanic::new().with_handler(middleware::panic_response))
        .around(move |ep, req| middleware::limit_body(ep, req, limit, body_timeout))
        .around(middleware::json_errors)
        .around(move |ep, req| metrics::track(ep, req, metrics.clone()))
        .around(move |ep, req| middleware::request_id(ep, req, policy.clone()))
}

fn cors(config: &Config) -> Cors {
    let cors = Cors::new()
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "x-request-id",
            "x-api-key",
            "x-user-id",
            "x-organization-id",
            "x-admin-secret",
            "if-none-match",
        ])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-tokenbudget-limit",
            "x-tokenbudget-remaining",
            "x-tokenbudget-reset",
            "www-authenticate",
            "etag",
        ])
        .max_age(600);
    if config.allowed_origins.iter().any(|o| o == "*") {
        cors
    } else {
        cors.allow_origins(config.allowed_origins.iter().map(String::as_str))
    }
}
