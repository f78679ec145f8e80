//! Traces over OTLP: the service (a child process, so its global tracer is its own) exports the
//! spans of a tutoring turn to an in-test OTLP/HTTP receiver, under the trace of the incoming
//! `traceparent`, and propagates that trace to the model.

mod model;
mod receiver;

use std::fs::OpenOptions;
use std::process::Stdio;
use std::time::{Duration, Instant};

use model::Model;
use receiver::{Received, Receiver};

/// The lesson the turn studies (from the sample lessons).
const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";
/// The caller's trace and span, as a W3C `traceparent` carries them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// Upper bound of the service's start; the test fails past it.
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Runs the service with `env` until `/health` answers; returns it with its port.
async fn start_service(
    env: &[(&str, String)],
    dir: &std::path::Path,
) -> (tokio::process::Child, u16) {
    let port = free_port();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("service.log"))
        .expect("service log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().expect("log handle")))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("service binary starts");
    let client = client();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("service exited at start ({status}): {}", log_of(dir));
        }
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return (child, port);
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "service did not start: {}",
            log_of(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log_of(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("service.log")).unwrap_or_default()
}

/// SIGTERM, then the exit: the service flushes its spans before it exits.
async fn stop(mut child: tokio::process::Child) {
    let pid = libc::pid_t::try_from(child.id().expect("running")).expect("pid fits");
    // SAFETY: kill(2) with the pid of our own running child and a valid signal number.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("service exits after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "service exit: {status}");
}

fn named<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} among {:#?}", names(spans)))
}

fn names(spans: &[Received]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

/// Whether `span` descends from `ancestor` through parent links within `spans`.
fn descends(spans: &[Received], span: &Received, ancestor: &Received) -> bool {
    let mut current = span;
    for _ in 0..spans.len() {
        if current.parent_span_id == ancestor.span_id {
            return true;
        }
        match spans.iter().find(|s| s.span_id == current.parent_span_id) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_turn_exports_its_spans_under_the_incoming_trace() {
    let receiver = Receiver::start().await;
    let model = Model::start().await;
    let dir = tempfile::tempdir().expect("service folder");
    let env = [
        ("APP_ENV", "development".to_string()),
        ("HOST", "127.0.0.1".to_string()),
        (
            "LESSONS_DIR",
            format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR")),
        ),
        ("OPENAI_API_KEY", "sk-traces".to_string()),
        ("OPENAI_BASE_URL", model.base_url()),
        ("SYNC_ON_START", "false".to_string()),
        ("SHUTDOWN_GRACE_SECS", "5".to_string()),
        ("LOG_LEVEL", "info".to_string()),
        ("LOG_FORMAT", "json".to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_SERVICE_NAME", "study-mode-traces-test".to_string()),
    ];
    let (child, port) = start_service(&env, dir.path()).await;

    let body = serde_json::json!({
        "type": "threads.create",
        "params": {"input": {
            "content": [{"type": "input_text", "text": "What is an agent?"}],
            "attachments": [],
            "inference_options": {}
        }}
    });
    let resp = client()
        .post(format!(
            "http://127.0.0.1:{port}/chatkit?lesson_path={LESSON}"
        ))
        .header("x-user-id", "trace-student")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .expect("turn request");
    assert_eq!(resp.status(), 200);
    let events = resp.text().await.expect("turn stream");
    assert!(events.contains("An agent perceives and acts."), "{events}");
    stop(child).await;

    let spans: Vec<Received> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .collect();
    assert!(
        !spans.is_empty(),
        "no span of the trace; log: {}",
        log_of(dir.path())
    );

    // Health probes (the start-up polls) are not exported.
    assert!(receiver.spans().iter().all(|s| !s.name.contains("/health")));
    // The request: a server span named by its route template, child of the caller's span.
    let request = named(&spans, "POST /chatkit");
    assert_eq!(request.parent_span_id, CALLER_SPAN);
    assert_eq!(request.attr("http.route"), Some("/chatkit"));
    assert_eq!(request.attr("http.response.status_code"), Some("200"));
    assert_eq!(request.service, "study-mode-traces-test");

    // The turn and its parts.
    let turn = named(&spans, "tutoring.turn");
    assert!(descends(&spans, turn, request));
    assert_eq!(turn.attr("mode"), Some("teach"));
    assert_eq!(turn.attr("outcome"), Some("completed"));
    for part in ["lesson.load", "store.insert_thread", "tutoring.commit"] {
        assert!(
            descends(&spans, named(&spans, part), turn),
            "{part} is not in the turn"
        );
    }
    let call = named(&spans, "chat");
    assert!(
        descends(&spans, call, turn),
        "the model call is not in the turn"
    );
    assert_eq!(call.attr("gen_ai.operation.name"), Some("chat"));
    assert_eq!(call.attr("gen_ai.usage.input_tokens"), Some("50"));
    assert_eq!(call.attr("gen_ai.usage.output_tokens"), Some("20"));
    assert!(
        call.attr("gen_ai.request.model")
            .is_some_and(|m| !m.is_empty())
    );
    assert!(call.attr("gen_ai.response.time_to_first_token").is_some());

    // The model saw the trace: its request's parent is the model call's span.
    let seen = model.traceparents();
    assert_eq!(
        seen,
        vec![Some(format!("00-{TRACE_ID}-{}-01", call.span_id))],
        "traceparent the model received"
    );

    // JSON log lines written inside the request carry its trace id.
    let log = log_of(dir.path());
    let traced = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "request finished" && l["span"]["path"] == "/chatkit")
        .unwrap_or_else(|| panic!("no request line in {log}"));
    assert_eq!(traced["trace_id"], TRACE_ID);
    assert_eq!(traced["span_id"], request.span_id.as_str());
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported_and_no_traceparent_is_sent() {
    let model = Model::start().await;
    let dir = tempfile::tempdir().expect("service folder");
    let env = [
        ("APP_ENV", "development".to_string()),
        ("HOST", "127.0.0.1".to_string()),
        (
            "LESSONS_DIR",
            format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR")),
        ),
        ("OPENAI_API_KEY", "sk-traces".to_string()),
        ("OPENAI_BASE_URL", model.base_url()),
        ("SYNC_ON_START", "false".to_string()),
        ("LOG_FORMAT", "json".to_string()),
    ];
    let (child, port) = start_service(&env, dir.path()).await;
    let body = serde_json::json!({
        "type": "threads.create",
        "params": {"input": {
            "content": [{"type": "input_text", "text": "What is an agent?"}],
            "attachments": [],
            "inference_options": {}
        }}
    });
    let resp = client()
        .post(format!(
            "http://127.0.0.1:{port}/chatkit?lesson_path={LESSON}"
        ))
        .header("x-user-id", "untraced-student")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .expect("turn request");
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    stop(child).await;
    assert_eq!(model.traceparents(), vec![None]);
    assert!(!log_of(dir.path()).contains("\"trace_id\""));
}
