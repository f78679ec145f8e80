//! `tutoring_model_requests_total{status}` and `tutoring_model_retries_total`: every HTTP
//! request to the model provider by what came of it, and the retries among them. The status
//! label is a closed set of classes, never the provider's text.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// What came of one request to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// The answer started streaming.
    Ok,
    /// 429.
    RateLimited,
    /// 5xx.
    ServerError,
    /// Any other non-success status (a bad key, a bad model name).
    ClientError,
    /// The connection failed or the request could not be sent.
    ConnectError,
    /// The turn's deadline passed during the request.
    Timeout,
    /// The response ended or broke before its first chunk.
    StreamError,
}

impl RequestStatus {
    const ALL: [Self; 7] = [
        Self::Ok,
        Self::RateLimited,
        Self::ServerError,
        Self::ClientError,
        Self::ConnectError,
        Self::Timeout,
        Self::StreamError,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::ClientError => "client_error",
            Self::ConnectError => "connect_error",
            Self::Timeout => "timeout",
            Self::StreamError => "stream_error",
        }
    }
}

/// The model request instruments.
#[derive(Clone, Debug)]
pub struct ModelMetrics {
    requests: IntCounterVec,
    retries: IntCounter,
}

impl ModelMetrics {
    /// The instruments, registered on `registry` when given; every status starts at zero.
    ///
    /// # Panics
    /// Never in practice: the definitions are static.
    pub fn new(registry: Option<&Registry>) -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "tutoring_model_requests_total",
                "HTTP requests to the tutor model provider by status class",
            ),
            &["status"],
        )
        .expect("static counter definition is valid");
        let retries = IntCounter::new(
            "tutoring_model_retries_total",
            "Requests to the tutor model provider that were retries of a failed one",
        )
        .expect("static counter definition is valid");
        for status in RequestStatus::ALL {
            requests.with_label_values(&[status.as_str()]);
        }
        if let Some(registry) = registry {
            for collector in [
                Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(retries.clone()),
            ] {
                if let Err(e) = registry.register(collector) {
                    tracing::warn!(error = %e, "a model request instrument was not registered");
                }
            }
        }
        Self { requests, retries }
    }

    /// Counts one request.
    pub fn request(&self, status: RequestStatus) {
        self.requests.with_label_values(&[status.as_str()]).inc();
    }

    /// Counts one retry.
    pub fn retry(&self) {
        self.retries.inc();
    }

    /// Requests counted with `status` (tests).
    pub fn count(&self, status: RequestStatus) -> u64 {
        self.requests.with_label_values(&[status.as_str()]).get()
    }
}
