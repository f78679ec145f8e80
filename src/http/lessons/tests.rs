//! In-process tests of the lesson endpoints over a mocked lesson source, plus validators.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};
use poem_openapi::OpenApiService;
use serde_json::Value;

use super::*;
use crate::adapters::lesson_cache_memory::MemoryLessonCache;
use crate::app::lessons::{LessonMetrics, LessonSettings};
use crate::domain::lesson::RawLesson;
use crate::domain::ports::{LessonSourceError, MockLessonSource};

/// A lesson with an introduction and two sections, each long enough to be its own chunk.
const MARKDOWN: &str = "---\ntitle: Agents\n---\n\n\
An agent is a program that pursues a goal on its own: it looks at its situation, decides \
what to do next, does it, and looks again. This lesson introduces the idea and the loop \
that every agent runs, with examples you already know from everyday software.\n\n\
## The Loop\n\n\
Every agent repeats the same three steps: observe the world, think about what the \
observation means for the goal, and act. The action changes the world, so the next \
observation differs, and the loop continues until the goal is reached or abandoned.\n\n\
## Tools\n\n\
Tools are how an agent acts: a search, a calculator, a file write, an API call. The \
model chooses a tool and its arguments; the program runs it and feeds the result back \
as the next observation, which is why tools turn a chat model into an agent.\n";

fn service(source: MockLessonSource) -> Arc<LessonService> {
    Arc::new(LessonService::new(
        Arc::new(source),
        Arc::new(MemoryLessonCache::new(100)),
        LessonSettings::default(),
        LessonMetrics::new(None),
    ))
}

fn serving(markdown: &'static str) -> MockLessonSource {
    let mut source = MockLessonSource::new();
    source.expect_fetch().returning(move |path| {
        Ok(RawLesson {
            path: path.clone(),
            markdown: markdown.into(),
        })
    });
    source
}

/// The lesson endpoints in-process, without the middleware stack.
struct Client(BoxEndpoint<'static>);

impl Client {
    fn new(source: MockLessonSource) -> Self {
        let config = Arc::new(Config::from_vars(Vec::new()).expect("default configuration"));
        let api = OpenApiService::new(
            LessonsApi::new(Some(service(source)), config.clone()),
            "test",
            "1",
        );
        let auth = crate::http::auth::AuthState {
            authenticator: Arc::new(crate::app::auth::Authenticator::none()),
            config,
        };
        Self(
            crate::http::auth::protect(api.into_endpoint(), auth)
                .map_to_response()
                .boxed(),
        )
    }

    async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = poem::Request::builder().uri(uri.parse().unwrap());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.0.get_response(req.finish()).await
    }
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()[name].to_str().unwrap().to_string()
}

async fn json(resp: Response) -> Value {
    serde_json::from_slice(&resp.into_body().into_vec().await.unwrap()).unwrap()
}

#[test]
fn lesson_etag_is_a_quoted_32_hex_digit_strong_validator() {
    let etag = lesson_etag("a/b", "text");

    assert_eq!(etag.len(), 34);
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert!(etag[1..33].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(etag, lesson_etag("a/b", "text"), "stable");
}

#[test]
fn lesson_etag_changes_with_the_path_or_the_content() {
    let etag = lesson_etag("a/b", "text");

    assert_ne!(etag, lesson_etag("a/c", "text"));
    assert_ne!(etag, lesson_etag("a/b", "text!"));
    assert_ne!(lesson_etag("a", "bc"), lesson_etag("ab", "c"));
}

#[test]
fn if_none_match_accepts_lists_weak_tags_and_a_star() {
    let etag = "\"abc\"";

    assert!(if_none_match_matches("\"abc\"", etag));
    assert!(if_none_match_matches("\"x\", \"abc\"", etag));
    assert!(if_none_match_matches("W/\"abc\"", etag));
    assert!(if_none_match_matches("*", etag));
    assert!(!if_none_match_matches("\"abcd\"", etag));
    assert!(!if_none_match_matches("abc", etag));
    assert!(!if_none_match_matches("", etag));
}

#[tokio::test]
async fn get_lesson_answers_the_lesson_with_its_etag_and_cache_control() {
    let cli = Client::new(serving(MARKDOWN));

    let resp = cli.get("/v1/lessons?path=01-A/02-b", &[]).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), LESSON_CACHE_CONTROL);
    let etag = header(&resp, "etag");
    let body = json(resp).await;
    assert_eq!(body["path"], "01-A/02-b");
    assert_eq!(body["title"], "Agents");
    assert_eq!(body["source"], "github");
    assert_eq!(body["cached"], false);
    assert_eq!(body["stale"], false);
    assert_eq!(body["chunks"][0]["index"], 0);
    let content = body["content"].as_str().unwrap();
    assert!(!content.contains("title: Agents"), "front matter removed");
    assert_eq!(etag, lesson_etag("01-A/02-b", content));
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["fetched_at"].as_str().unwrap()).is_ok(),
        "fetched_at is RFC 3339"
    );
}

#[tokio::test]
async fn get_lesson_answers_304_without_a_body_when_if_none_match_matches() {
    let cli = Client::new(serving(MARKDOWN));
    let etag = header(&cli.get("/v1/lessons?path=01-A/02-b", &[]).await, "etag");

    let resp = cli
        .get("/v1/lessons?path=01-A/02-b", &[("if-none-match", &etag)])
        .await;

    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&resp, "etag"), etag);
    assert_eq!(header(&resp, "cache-control"), LESSON_CACHE_CONTROL);
    assert!(resp.into_body().into_vec().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_lesson_answers_the_body_when_if_none_match_names_another_version() {
    let cli = Client::new(serving(MARKDOWN));

    let resp = cli
        .get(
            "/v1/lessons?path=01-A/02-b",
            &[("if-none-match", "\"old\"")],
        )
        .await;

    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn get_lesson_refuses_an_invalid_path_without_asking_the_source() {
    let mut source = MockLessonSource::new();
    source.expect_fetch().never();
    let cli = Client::new(source);

    for bad in ["..%2Fx", "a%5Cb", "%252e%252e%2Fx", "%2Fabs"] {
        let resp = cli.get(&format!("/v1/lessons?path={bad}"), &[]).await;

        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json(resp).await["error"]["code"], "invalid_lesson_path");
    }
}

#[tokio::test]
async fn get_lesson_maps_missing_and_failing_sources_to_404_and_503() {
    let mut source = MockLessonSource::new();
    source.expect_fetch().returning(|path| match path.as_str() {
        "gone" => Err(LessonSourceError::NotFound),
        _ => Err(LessonSourceError::Unavailable("down".into())),
    });
    let cli = Client::new(source);

    let missing = cli.get("/v1/lessons?path=gone", &[]).await;
    let down = cli.get("/v1/lessons?path=down", &[]).await;

    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(missing).await["error"]["code"], "lesson_not_found");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(down).await["error"]["code"], "lesson_unavailable");
}

#[tokio::test]
async fn suggestions_come_from_the_lesson_chunks() {
    let cli = Client::new(serving(MARKDOWN));

    let resp = cli
        .get("/chatkit/suggestions?lesson_path=01-A/02-b.md", &[])
        .await;

    assert_eq!(resp.status(), StatusCode::OK);
    let body = json(resp).await;
    assert_eq!(body["lesson_path"], "01-A/02-b");
    assert_eq!(body["title"], "Agents");
    let list = body["suggestions"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 4);
    assert_eq!(list[0]["label"], "Teach me this lesson");
    assert!(list.iter().any(|s| s["label"] == "Explain The Loop"));
}
