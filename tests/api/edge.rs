//! The connection edge as an attacker meets it: invented methods, bodies without a length,
//! connections that never finish, too many connections; and the headers private answers carry.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::chatkit_client::{assistant_text, lessons_dir};
use crate::fake_model::{self, Script};
use crate::helpers::{TestApp, pairs, spawn_app, spawn_app_with};

/// Upper bound for "the server closed it": far above every timeout these tests configure.
const PATIENCE: Duration = Duration::from_secs(15);

/// Reads until the server closes the connection; returns what it sent, or `None` if it kept
/// the connection open past [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all).await.ok()?;
    Some(seen)
}

async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn invented_methods_are_counted_as_other_and_never_become_labels() {
    let app = spawn_app().await;
    for i in 0..20 {
        let method =
            reqwest::Method::from_bytes(format!("INVENTED{i}{}", "X".repeat(200)).as_bytes())
                .unwrap();
        let _ = app
            .client
            .request(method, app.url("/health"))
            .send()
            .await
            .unwrap();
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("INVENTED"), "client text became a label");
    assert!(metrics.contains(r#"method="other""#));
    assert!(
        metrics.len() < 64 * 1024,
        "metrics grew to {} bytes",
        metrics.len()
    );
}

#[tokio::test]
async fn an_http2_body_over_the_limit_is_refused_whatever_the_headers_say() {
    let app = spawn_app_with(pairs(&[("MAX_BODY_BYTES", "65536")])).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for path in ["/webhooks/github", "/chatkit", "/v1/threads"] {
        // A streamed body: HTTP/2 carries no Content-Length and no Transfer-Encoding for it.
        let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 16 * 1024]));
        let resp = h2
            .post(app.url(path))
            .header("x-user-id", "student")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.status(), 413, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_408() {
    let app = spawn_app_with(pairs(&[("HTTP_BODY_READ_TIMEOUT_SECS", "1")])).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /v1/threads HTTP/1.1\r\nHost: test\r\nx-user-id: s\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    let seen = read_until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(seen.as_deref().unwrap_or_default()).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"));
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let app = spawn_app_with(pairs(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECS", "600"),
    ]))
    .await;
    // One sends nothing; one trickles a head that never ends.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let trickle = async {
        for line in [
            "GET /health HTTP/1.1\r\n",
            "Host: test\r\n",
            "X-A: 1\r\n",
            "X-B: 2\r\n",
        ] {
            if slow.write_all(line.as_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        read_until_closed(&mut slow).await
    };
    let (silent_seen, slow_seen) = tokio::join!(read_until_closed(&mut silent), trickle);
    assert!(silent_seen.is_some(), "a silent connection stayed open");
    assert!(
        slow_seen.is_some(),
        "an unfinished head kept its connection"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("http_connections_timed_out_total"));
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_timeout_until_it_is_idle() {
    let app = spawn_app_with(pairs(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECS", "3"),
    ]))
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    assert!(
        get_on(&mut stream, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // Longer than the header timeout between two requests: the connection is still there.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    assert!(
        get_on(&mut stream, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // Then, idle for longer than the idle timeout, it is closed.
    assert!(read_until_closed(&mut stream).await.is_some());
}

#[tokio::test]
async fn an_open_stream_is_not_cut_by_the_idle_timeout() {
    // The model pauses longer than the idle timeout before each word.
    let model = fake_model::start(Script {
        deltas: vec!["Slow ".into(), "answer".into()],
        delay: Duration::from_millis(1_500),
        ..Script::default()
    })
    .await;
    let app = spawn_app_with(pairs(&[
        ("LESSONS_DIR", &lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECS", "1"),
    ]))
    .await;
    let (_, events) = app.start_thread("student-a", "Hi").await;
    assert_eq!(assistant_text(&events), "Slow answer");
}

#[tokio::test]
async fn connections_past_the_cap_get_a_503_and_are_closed() {
    let app = spawn_app_with(pairs(&[("MAX_CONNECTIONS", "2")])).await;
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    let mut second = TcpStream::connect(app.addr).await.unwrap();
    assert!(
        get_on(&mut first, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get_on(&mut second, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    let seen = read_until_closed(&mut third).await.expect("closed");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"));
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections");
    // Once one closes, a new connection is served again.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let mut next = TcpStream::connect(app.addr).await.unwrap();
        let answer = get_on(&mut next, "/health").await;
        if answer.starts_with("HTTP/1.1 200") {
            again = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "a freed slot is reused");
    drop(second);
}

/// The value of `SETTINGS_MAX_CONCURRENT_STREAMS` in the server's first SETTINGS frame.
async fn advertised_stream_limit(app: &TestApp) -> Option<u32> {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    assert_eq!(head[3], 0x4, "the server speaks first with SETTINGS");
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    payload.chunks_exact(6).find_map(|s| {
        (u16::from_be_bytes([s[0], s[1]]) == 0x3)
            .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
    })
}

#[tokio::test]
async fn http2_connections_advertise_a_stream_cap() {
    let default = spawn_app().await;
    assert_eq!(advertised_stream_limit(&default).await, Some(100));
    let custom = spawn_app_with(pairs(&[("HTTP2_MAX_CONCURRENT_STREAMS", "8")])).await;
    assert_eq!(advertised_stream_limit(&custom).await, Some(8));
}

#[tokio::test]
async fn private_answers_are_never_stored_and_hsts_is_sent_when_configured() {
    let app = spawn_app_with(pairs(&[("HSTS_MAX_AGE_SECS", "31536000")])).await;
    let threads = app
        .client
        .get(app.url("/v1/threads"))
        .header("x-user-id", "student")
        .send()
        .await
        .unwrap();
    assert_eq!(threads.status(), 200);
    assert_eq!(threads.headers()["cache-control"], "no-store");
    assert_eq!(
        threads.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let chatkit = app
        .client
        .post(app.url("/chatkit"))
        .header("x-user-id", "student")
        .json(&serde_json::json!({"type": "threads.list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(chatkit.headers()["cache-control"], "no-store");
    let health = app.get("/health").await;
    assert!(health.headers().get("cache-control").is_none());

    let plain = spawn_app().await;
    assert!(
        plain
            .get("/health")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}
