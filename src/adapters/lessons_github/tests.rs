//! Unit tests of the GitHub lesson source against a fake raw server on 127.0.0.1.

mod conditional;

use std::future::Future;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode as PoemStatus;
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};

use super::*;

/// What the fake server saw: request path and `Authorization` / `User-Agent` headers.
#[derive(Debug, Clone, Default)]
struct Seen {
    path: String,
    authorization: Option<String>,
    user_agent: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `answer(path)` on a fresh port of 127.0.0.1; returns the base URL and request log.
async fn serve<F, Fut>(answer: F) -> (String, Log)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let log: Log = Arc::default();
    let seen = log.clone();
    let answer = Arc::new(answer);
    let endpoint = poem::endpoint::make(move |req: Request| {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let path = req.uri().path().to_string();
        seen.lock().expect("log lock").push(Seen {
            path: path.clone(),
            authorization: header("authorization"),
            user_agent: header("user-agent"),
        });
        let answer = answer.clone();
        async move { answer(path).await }
    });
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    (format!("http://{addr}"), log)
}

fn settings(base: &str, token: Option<&str>) -> GithubSettings {
    GithubSettings {
        raw_base_url: format!("{base}/"),
        repo: "panaversity/agentfactory".to_string(),
        branch: "main".to_string(),
        docs_prefix: "/apps/learn-app/docs/".to_string(),
        token: token.map(SecretString::from),
    }
}

fn lesson(path: &str) -> LessonPath {
    LessonPath::parse(path).expect("valid path")
}

fn status(code: PoemStatus) -> Response {
    Response::builder().status(code).finish()
}

const PREFIX: &str = "/panaversity/agentfactory/main/apps/learn-app/docs";

#[tokio::test]
async fn fetch_falls_back_to_the_mdx_form_after_a_404() {
    let (base, log) = serve(|path| async move {
        if path.ends_with("/01-part/02-lesson.mdx") {
            Response::builder().body("# From MDX")
        } else {
            status(PoemStatus::NOT_FOUND)
        }
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    let raw = source
        .fetch(&lesson("01-part/02-lesson"))
        .await
        .expect("found");
    assert_eq!(raw.markdown, "# From MDX");
    assert_eq!(raw.path.as_str(), "01-part/02-lesson");
    let paths: Vec<String> = log
        .lock()
        .expect("log")
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{PREFIX}/01-part/02-lesson.md"),
            format!("{PREFIX}/01-part/02-lesson.mdx"),
        ]
    );
}

#[tokio::test]
async fn fetch_returns_not_found_after_every_form_404s() {
    let (base, log) = serve(|_| async { status(PoemStatus::NOT_FOUND) }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    let result = source.fetch(&lesson("a/missing")).await;
    assert!(matches!(result, Err(LessonSourceError::NotFound)));
    let paths: Vec<String> = log
        .lock()
        .expect("log")
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        paths,
        [".md", ".mdx", "/index.md", "/README.md"].map(|f| format!("{PREFIX}/a/missing{f}"))
    );
}

#[tokio::test]
async fn fetch_reports_a_server_error_as_unavailable_without_trying_further() {
    let (base, log) = serve(|_| async { status(PoemStatus::INTERNAL_SERVER_ERROR) }).await;
    let source = GithubLessonSource::new(settings(&base, Some("s3cret-token"))).expect("source");
    match source.fetch(&lesson("a/b")).await {
        Err(LessonSourceError::Unavailable(message)) => {
            assert!(message.contains("500"));
            assert!(!message.contains("s3cret-token"));
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(log.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn fetch_sends_the_token_and_a_user_agent() {
    let (base, log) = serve(|_| async { Response::builder().body("ok") }).await;
    let source = GithubLessonSource::new(settings(&base, Some("s3cret-token"))).expect("source");
    source.fetch(&lesson("a/b")).await.expect("found");
    let seen = log.lock().expect("log")[0].clone();
    assert_eq!(seen.authorization.as_deref(), Some("token s3cret-token"));
    assert_eq!(
        seen.user_agent,
        Some(format!("study-mode-api/{}", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn fetch_sends_no_authorization_without_a_token() {
    let (base, log) = serve(|_| async { Response::builder().body("ok") }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    source.fetch(&lesson("a/b")).await.expect("found");
    assert_eq!(log.lock().expect("log")[0].authorization, None);
}

#[tokio::test]
async fn fetch_reports_a_hanging_server_as_unavailable() {
    let (base, _log) = serve(|_| async {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        Response::builder().body("too late")
    })
    .await;
    let source = GithubLessonSource::with_timeouts(
        settings(&base, None),
        Duration::from_millis(500),
        Duration::from_millis(200),
    )
    .expect("source");
    let result = source.fetch(&lesson("a/b")).await;
    assert!(
        matches!(result, Err(LessonSourceError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn fetch_reports_a_closed_port_as_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    let source =
        GithubLessonSource::new(settings(&format!("http://{addr}"), None)).expect("source");
    let result = source.fetch(&lesson("a/b")).await;
    assert!(
        matches!(result, Err(LessonSourceError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn fetch_refuses_a_body_larger_than_two_mebibytes() {
    let (base, _log) =
        serve(|_| async { Response::builder().body(vec![b'a'; MAX_LESSON_BYTES + 1]) }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    let result = source.fetch(&lesson("a/b")).await;
    assert!(
        matches!(result, Err(LessonSourceError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn fetch_refuses_a_streamed_body_without_length_once_it_passes_two_mebibytes() {
    let (base, _log) = serve(|_| async {
        // 64 KiB pieces without a Content-Length: the bound must hold while reading.
        let pieces = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024]));
        Response::builder().body(poem::Body::from_bytes_stream(futures::stream::iter(pieces)))
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    let result = source.fetch(&lesson("a/b")).await;
    assert!(
        matches!(result, Err(LessonSourceError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn fetch_accepts_a_body_of_exactly_two_mebibytes() {
    let (base, _log) =
        serve(|_| async { Response::builder().body(vec![b'a'; MAX_LESSON_BYTES]) }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    let raw = source.fetch(&lesson("a/b")).await.expect("found");
    assert_eq!(raw.markdown.len(), MAX_LESSON_BYTES);
}

#[tokio::test]
async fn fetch_refuses_unchecked_paths_that_would_leave_the_docs_prefix() {
    let (base, log) = serve(|_| async { Response::builder().body("secret") }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");
    for raw in ["../../secret", "/etc/passwd", "a/%2e%2e/b", ""] {
        let result = source.fetch(&LessonPath::new_unchecked(raw)).await;
        assert!(
            matches!(result, Err(LessonSourceError::NotFound)),
            "for {raw:?}"
        );
    }
    assert!(log.lock().expect("log").is_empty());
}

#[test]
fn new_refuses_settings_that_cannot_form_a_url() {
    let mut bad_base = settings("http://127.0.0.1:1", None);
    bad_base.raw_base_url = "not a url".to_string();
    assert!(GithubLessonSource::new(bad_base).is_err());
    let mut ftp = settings("ftp://127.0.0.1", None);
    ftp.raw_base_url = "ftp://127.0.0.1".to_string();
    assert!(GithubLessonSource::new(ftp).is_err());
    let mut no_repo = settings("http://127.0.0.1:1", None);
    no_repo.repo = " / ".to_string();
    assert!(GithubLessonSource::new(no_repo).is_err());
    assert!(GithubLessonSource::new(settings("http://127.0.0.1:1", Some("bad\ntoken"))).is_err());
}

#[test]
fn debug_output_never_shows_the_token() {
    let config = settings("http://127.0.0.1:1", Some("s3cret-token"));
    assert!(!format!("{config:?}").contains("s3cret-token"));
    let source = GithubLessonSource::new(config).expect("source");
    assert!(!format!("{source:?}").contains("s3cret-token"));
}

#[tokio::test]
async fn a_429_is_a_backoff_with_the_retry_after_github_sent_and_no_further_form_is_tried() {
    let (base, log) = serve(|_| async {
        Response::builder()
            .status(PoemStatus::TOO_MANY_REQUESTS)
            .header("retry-after", "120")
            .finish()
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source.fetch(&lesson("a/b")).await;

    match outcome {
        Err(LessonSourceError::Backoff { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("expected Backoff, got {other:?}"),
    }
    assert_eq!(log.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn a_403_with_an_exhausted_rate_limit_is_a_backoff_until_the_reset() {
    let reset = (chrono::Utc::now().timestamp() + 600).to_string();
    let (base, _log) = serve(move |_| {
        let reset = reset.clone();
        async move {
            Response::builder()
                .status(PoemStatus::FORBIDDEN)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", reset)
                .finish()
        }
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source.fetch(&lesson("a/b")).await;

    match outcome {
        Err(LessonSourceError::Backoff {
            retry_after: Some(d),
            ..
        }) => assert!(d > Duration::from_secs(500) && d <= Duration::from_secs(600)),
        other => panic!("expected Backoff with a hint, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plain_403_is_a_failure_not_a_backoff() {
    let (base, _log) = serve(|_| async { status(PoemStatus::FORBIDDEN) }).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source.fetch(&lesson("a/b")).await;

    assert!(matches!(outcome, Err(LessonSourceError::Unavailable(_))));
}

#[test]
fn backoff_hints_read_seconds_dates_and_resets_and_ignore_garbage() {
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let secs = Duration::from_secs;
    assert_eq!(backoff_hint(Some(" 30 "), None, now), Some(secs(30)));
    assert_eq!(
        backoff_hint(Some("Tue, 14 Nov 2023 22:14:20 GMT"), None, now),
        Some(secs(60))
    );
    assert_eq!(backoff_hint(None, Some("1700000090"), now), Some(secs(90)));
    assert_eq!(
        backoff_hint(Some("soon"), Some("1700000090"), now),
        Some(secs(90)),
        "an unreadable Retry-After falls back to the reset"
    );
    assert_eq!(backoff_hint(None, Some("1600000000"), now), None, "past");
    assert_eq!(backoff_hint(None, Some("-5"), now), None);
    assert_eq!(backoff_hint(Some("x"), Some("y"), now), None);
    assert_eq!(backoff_hint(None, None, now), None);
    assert_eq!(
        backoff_hint(Some("18446744073709551615"), None, now),
        Some(secs(u64::MAX)),
        "huge values are capped by the breaker, not here"
    );
}
