//! Conditional fetches: `If-None-Match` with a known validator, 304 as "not modified", the
//! answer's `ETag` kept only when it is small and printable.

use super::*;

/// Request paths with the `If-None-Match` each carried.
type Validators = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `answer(path, if_none_match)`; returns the base URL and every `If-None-Match` seen
/// (by request path).
async fn serve_conditional<F>(answer: F) -> (String, Validators)
where
    F: Fn(&str, Option<&str>) -> Response + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let log: Validators = Arc::default();
    let seen = log.clone();
    let endpoint = poem::endpoint::make_sync(move |req: Request| {
        let path = req.uri().path().to_string();
        let validator = req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        seen.lock()
            .expect("log lock")
            .push((path.clone(), validator.clone()));
        answer(&path, validator.as_deref())
    });
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    (format!("http://{addr}"), log)
}

/// A file at `.md` with validator `"v2"`: 304 when asked with it, the body otherwise.
fn versioned(path: &str, validator: Option<&str>) -> Response {
    if !path.ends_with(".md") {
        return status(PoemStatus::NOT_FOUND);
    }
    if validator == Some("\"v2\"") {
        return Response::builder()
            .status(PoemStatus::NOT_MODIFIED)
            .header("etag", "\"v2\"")
            .finish();
    }
    Response::builder().header("etag", "\"v2\"").body("# Two")
}

#[tokio::test]
async fn a_matching_validator_is_sent_and_a_304_is_not_modified() {
    let (base, log) = serve_conditional(versioned).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source
        .fetch_if_changed(&lesson("a/b"), Some("\"v2\"".into()))
        .await;

    assert_eq!(outcome.expect("answered"), Conditional::NotModified);
    let seen = log.lock().expect("log").clone();
    assert_eq!(
        seen,
        [(format!("{PREFIX}/a/b.md"), Some("\"v2\"".to_string()))]
    );
}

#[tokio::test]
async fn an_old_validator_gets_the_new_text_and_its_etag() {
    let (base, _log) = serve_conditional(versioned).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source
        .fetch_if_changed(&lesson("a/b"), Some("\"v1\"".into()))
        .await;

    match outcome.expect("answered") {
        Conditional::Modified { lesson, etag } => {
            assert_eq!(lesson.markdown, "# Two");
            assert_eq!(lesson.path.as_str(), "a/b");
            assert_eq!(etag.as_deref(), Some("\"v2\""));
        }
        other => panic!("expected Modified, got {other:?}"),
    }
}

#[tokio::test]
async fn without_a_validator_no_if_none_match_is_sent() {
    let (base, log) = serve_conditional(versioned).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source.fetch_if_changed(&lesson("a/b"), None).await;

    assert!(matches!(outcome, Ok(Conditional::Modified { .. })));
    assert_eq!(log.lock().expect("log")[0].1, None);
}

#[tokio::test]
async fn the_validator_goes_with_every_form_tried_and_the_mdx_form_may_answer_304() {
    let (base, log) = serve_conditional(|path, validator| {
        if path.ends_with(".mdx") && validator == Some("\"x\"") {
            Response::builder()
                .status(PoemStatus::NOT_MODIFIED)
                .finish()
        } else {
            status(PoemStatus::NOT_FOUND)
        }
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source
        .fetch_if_changed(&lesson("a/b"), Some("\"x\"".into()))
        .await;

    assert_eq!(outcome.expect("answered"), Conditional::NotModified);
    let seen = log.lock().expect("log").clone();
    assert_eq!(
        seen,
        [".md", ".mdx"].map(|f| (format!("{PREFIX}/a/b{f}"), Some("\"x\"".to_string())))
    );
}

#[tokio::test]
async fn a_validator_that_cannot_have_come_from_github_is_not_sent() {
    let (base, log) = serve_conditional(versioned).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    for bad in ["", "has space", "\"é\"", &"x".repeat(MAX_ETAG_CHARS + 1)] {
        let outcome = source
            .fetch_if_changed(&lesson("a/b"), Some(bad.to_string()))
            .await;
        assert!(
            matches!(outcome, Ok(Conditional::Modified { .. })),
            "for {bad:?}"
        );
    }
    assert!(log.lock().expect("log").iter().all(|(_, v)| v.is_none()));
}

#[tokio::test]
async fn an_oversized_or_unprintable_etag_is_dropped() {
    let long = format!("\"{}\"", "e".repeat(MAX_ETAG_CHARS));
    let (base, _log) = serve_conditional(move |path, _| {
        if path.contains("/long") {
            Response::builder()
                .header("etag", long.as_str())
                .body("# L")
        } else {
            Response::builder().header("etag", "\"a\tb\"").body("# T")
        }
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    for path in ["a/long", "a/tab"] {
        match source.fetch_if_changed(&lesson(path), None).await {
            Ok(Conditional::Modified { etag, .. }) => assert_eq!(etag, None, "for {path}"),
            other => panic!("expected Modified, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_etag_of_exactly_the_limit_is_kept() {
    let exact = "e".repeat(MAX_ETAG_CHARS);
    let sent = exact.clone();
    let (base, _log) = serve_conditional(move |_, _| {
        Response::builder()
            .header("etag", sent.as_str())
            .body("# T")
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let outcome = source.fetch_if_changed(&lesson("a/b"), None).await;

    assert!(matches!(outcome, Ok(Conditional::Modified { etag: Some(e), .. }) if e == exact));
}

#[tokio::test]
async fn an_unasked_304_is_a_failure() {
    let (base, _log) = serve_conditional(|_, _| status(PoemStatus::NOT_MODIFIED)).await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let conditional = source.fetch_if_changed(&lesson("a/b"), None).await;
    let plain = source.fetch(&lesson("a/b")).await;

    assert!(matches!(
        conditional,
        Err(LessonSourceError::Unavailable(_))
    ));
    assert!(matches!(plain, Err(LessonSourceError::Unavailable(_))));
}

#[tokio::test]
async fn conditional_fetches_keep_the_size_cap_and_the_rate_limit_handling() {
    let (base, _log) = serve_conditional(|path, _| {
        if path.contains("/big") {
            Response::builder().body(vec![b'a'; MAX_LESSON_BYTES + 1])
        } else {
            Response::builder()
                .status(PoemStatus::TOO_MANY_REQUESTS)
                .header("retry-after", "7")
                .finish()
        }
    })
    .await;
    let source = GithubLessonSource::new(settings(&base, None)).expect("source");

    let big = source
        .fetch_if_changed(&lesson("a/big"), Some("\"v\"".into()))
        .await;
    let throttled = source
        .fetch_if_changed(&lesson("a/b"), Some("\"v\"".into()))
        .await;

    assert!(matches!(big, Err(LessonSourceError::Unavailable(_))));
    assert!(matches!(
        throttled,
        Err(LessonSourceError::Backoff { retry_after: Some(d), .. }) if d == Duration::from_secs(7)
    ));
}
