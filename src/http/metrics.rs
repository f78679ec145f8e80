//! Prometheus metrics: HTTP counters and latency by route and status, in-flight requests and
//! database pool occupancy. Later features register their own instruments on [`Metrics::registry`].

use std::sync::{Arc, RwLock};
use std::time::Instant;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::server::ConnectionMetrics;

/// Pool facts sampled at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolSample {
    /// Connections handed out.
    pub in_use: i64,
    /// Connections open and idle.
    pub idle: i64,
    /// Database operations waiting for a connection.
    pub waiting: i64,
    /// Configured maximum.
    pub max: i64,
    /// Every connection is in use: requests queue (busy, which readiness does not count as
    /// down).
    pub saturated: bool,
    /// Database calls that gave up waiting for a connection, since start.
    pub acquire_timeouts: u64,
}

type PoolProbe = Arc<dyn Fn() -> PoolSample + Send + Sync>;

/// The service's metric registry and HTTP instruments.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    pool: IntGaugeVec,
    pool_saturated: IntGauge,
    acquire_timeouts: IntCounter,
    pool_probe: RwLock<Option<PoolProbe>>,
    connections: ConnectionMetrics,
}

impl Metrics {
    /// Creates the registry with the HTTP and pool instruments.
    ///
    /// # Panics
    /// Never in practice: the instrument definitions are static and valid.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("static counter definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency until the response head",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method", "status"],
        )
        .expect("static histogram definition is valid");
        let in_flight = IntGauge::new("http_requests_in_flight", "HTTP requests being served")
            .expect("static gauge definition is valid");
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool: in_use, idle, waiting and max",
            ),
            &["state"],
        )
        .expect("static gauge definition is valid");
        let pool_saturated = IntGauge::new(
            "db_pool_saturated",
            "1 while every database connection is in use (busy, not down)",
        )
        .expect("static gauge definition is valid");
        let acquire_timeouts = IntCounter::new(
            "db_pool_acquire_timeouts_total",
            "Database calls that gave up waiting for a connection (answered 503)",
        )
        .expect("static counter definition is valid");
        let connections = ConnectionMetrics {
            open: IntGauge::new("http_connections_open", "Client connections open")
                .expect("static gauge definition is valid"),
            refused: IntCounter::new(
                "http_connections_refused_total",
                "Connections answered 503 and closed because MAX_CONNECTIONS were open",
            )
            .expect("static counter definition is valid"),
            timed_out: IntCounter::new(
                "http_connections_timed_out_total",
                "Connections cut for an unfinished request head or a peer that stopped reading",
            )
            .expect("static counter definition is valid"),
        };
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(pool.clone()),
            Box::new(pool_saturated.clone()),
            Box::new(acquire_timeouts.clone()),
            Box::new(connections.open.clone()),
            Box::new(connections.refused.clone()),
            Box::new(connections.timed_out.clone()),
        ] {
            registry
                .register(c)
                .expect("each instrument is registered once");
        }
        Self {
            registry,
            requests,
            latency,
            in_flight,
            pool,
            pool_saturated,
            acquire_timeouts,
            pool_probe: RwLock::new(None),
            connections,
        }
    }

    /// The instruments of the server loop.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
    }

    /// The registry, for instruments of other features.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Installs the function that samples the database pool at scrape time.
    pub fn set_pool_probe(&self, probe: impl Fn() -> PoolSample + Send + Sync + 'static) {
        if let Ok(mut slot) = self.pool_probe.write() {
            *slot = Some(Arc::new(probe));
        }
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let probe = self.pool_probe.read().ok().and_then(|p| p.clone());
        if let Some(probe) = probe {
            let s = probe();
            for (state, v) in [
                ("in_use", s.in_use),
                ("idle", s.idle),
                ("waiting", s.waiting),
                ("max", s.max),
            ] {
                self.pool.with_label_values(&[state]).set(v);
            }
            self.pool_saturated.set(i64::from(s.saturated));
            // The pool counts; the counter only ever catches up.
            let behind = s
                .acquire_timeouts
                .saturating_sub(self.acquire_timeouts.get());
            self.acquire_timeouts.inc_by(behind);
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Route label: the OpenAPI operation id when there is one, else a fixed name, so that
/// arbitrary paths (scanners, typos) cannot blow up the label cardinality.
fn route_label(path: &str, resp: &Response) -> &'static str {
    if let Some(op) = resp.data::<poem_openapi::OperationId>() {
        return op.0;
    }
    match path {
        "/metrics" => "metrics",
        "/openapi.json" => "openapiJson",
        "/openapi.yaml" => "openapiYaml",
        p if p == "/docs" || p.starts_with("/docs/") => "docs",
        _ => "unmatched",
    }
}

/// The method as a label and log field: one of a fixed set, so invented methods (any token is a
/// valid method) can neither grow the label set nor put client text in the logs.
pub fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Keeps `http_requests_in_flight` right even when a client disconnects mid-request and the
/// request future is dropped.
struct InFlight(IntGauge);

impl InFlight {
    fn enter(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts requests and records latency by route, method and status.
pub async fn track<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    metrics: Arc<Metrics>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    let method = method_label(req.method());
    let in_flight = InFlight::enter(&metrics.in_flight);
    let started = Instant::now();
    let resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    drop(in_flight);
    let route = route_label(&path, &resp);
    let status = resp.status().as_u16().to_string();
    let labels = [route, method, status.as_str()];
    metrics.requests.with_label_values(&labels).inc();
    metrics
        .latency
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    Ok(resp)
}

/// `GET /metrics` in the Prometheus text exposition format.
#[handler]
pub fn scrape(metrics: Data<&Arc<Metrics>>) -> impl IntoResponse {
    metrics
        .render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .with_status(StatusCode::OK)
}
