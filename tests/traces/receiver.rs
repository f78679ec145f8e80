//! An in-test OTLP/HTTP trace receiver: `POST /v1/traces` with protobuf bodies, kept in order.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, handler, post};
use prost::Message;

/// A received span, reduced to what the tests look at.
#[derive(Debug, Clone)]
pub struct Received {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub attributes: Vec<(String, String)>,
    pub service: String,
}

impl Received {
    /// The value of attribute `key`, as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

type Store = Arc<Mutex<Vec<Received>>>;

/// The running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    spans: Store,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on 127.0.0.1:(free port).
    pub async fn start() -> Self {
        let spans = Store::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let app = Route::new()
            .at("/v1/traces", post(traces))
            .data(spans.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self { addr, spans, task }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for the service (the exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().expect("spans lock").clone()
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn reduce(span: &Span, service: &str) -> Received {
    Received {
        name: span.name.clone(),
        trace_id: hex::encode(&span.trace_id),
        span_id: hex::encode(&span.span_id),
        parent_span_id: hex::encode(&span.parent_span_id),
        attributes: span
            .attributes
            .iter()
            .map(|kv| {
                let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
                (kv.key.clone(), text(value))
            })
            .collect(),
        service: service.to_string(),
    }
}

#[handler]
async fn traces(store: Data<&Store>, body: Bytes) -> Response {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return Response::builder().status(StatusCode::BAD_REQUEST).finish();
    };
    let mut spans = store.lock().expect("spans lock");
    for resource in &request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for scope in &resource.scope_spans {
            spans.extend(scope.spans.iter().map(|s| reduce(s, &service)));
        }
    }
    // An empty ExportTraceServiceResponse is zero protobuf bytes.
    Response::builder()
        .content_type("application/x-protobuf")
        .body(Vec::<u8>::new())
}
