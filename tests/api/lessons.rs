//! Lessons through the cache against a fake GitHub: `GET /v1/lessons` and suggestions; the
//! purges (admin endpoint, GitHub webhook) are in `lessons/purge.rs`.

mod abuse;
mod purge;
mod shared;
mod upstream;

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_github::FakeGithub;
use crate::helpers::{TestApp, pairs, spawn_app_with};

pub const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";
const TOKEN: &str = "ghp_test_token_123";
pub const ADMIN: &str = "admin-secret-0123456789";
pub const HOOK: &str = "webhook-secret-0123456789";

/// A lesson whose two sections are long enough to stay separate teaching steps.
pub fn markdown(title: &str) -> String {
    let filler =
        "An agent observes, decides and acts, again and again, until its goal is met. ".repeat(4);
    format!(
        "---\ntitle: {title}\n---\n\nimport Tabs from '@theme/Tabs';\n\n{filler}\n\n\
         ## Perception\n\n{filler}\n\n## Action\n\n{filler}\n"
    )
}

pub async fn spawn(fake: &FakeGithub, extra: &[(&str, &str)]) -> TestApp {
    let base = fake.base_url();
    let mut vars = pairs(&[
        ("GITHUB_RAW_BASE_URL", &base),
        ("GITHUB_TOKEN", TOKEN),
        ("ADMIN_SECRET", ADMIN),
        ("GITHUB_WEBHOOK_SECRET", HOOK),
    ]);
    // An override replaces the default (blank values are dropped by the configuration, so
    // appending `NAME=` would leave the default in place).
    vars.retain(|(name, _)| extra.iter().all(|(k, _)| k != name));
    vars.extend(pairs(extra));
    spawn_app_with(vars).await
}

/// A fake serving [`LESSON`] as `.md`, and the service in front of it.
pub async fn setup() -> (FakeGithub, TestApp) {
    let fake = FakeGithub::start().await;
    fake.put(&format!("{LESSON}.md"), &markdown("What Is an AI Agent?"));
    let app = spawn(&fake, &[]).await;
    (fake, app)
}

impl TestApp {
    pub async fn lesson(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/v1/lessons?path={}", encode(path))))
            .header("x-user-id", "student-1")
            .send()
            .await
            .expect("request reaches the service")
    }

    pub async fn lesson_json(&self, path: &str) -> (u16, Value) {
        let resp = self.lesson(path).await;
        (
            resp.status().as_u16(),
            resp.json().await.expect("JSON body"),
        )
    }
}

pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn first_read_fetches_with_the_token_and_falls_back_from_md_to_mdx() {
    // Arrange
    let fake = FakeGithub::start().await;
    fake.put(&format!("{LESSON}.mdx"), &markdown("What Is an AI Agent?"));
    let app = spawn(&fake, &[]).await;

    // Act
    let resp = app.lesson(LESSON).await;

    // Assert
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(resp.headers()["cache-control"], "private, max-age=60");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["path"], LESSON);
    assert_eq!(body["title"], "What Is an AI Agent?");
    assert_eq!(body["source"], "github");
    assert_eq!(body["cached"], false);
    assert_eq!(body["stale"], false);
    let content = body["content"].as_str().unwrap();
    assert!(content.contains("## Perception"));
    assert!(!content.contains("title:") && !content.contains("import Tabs"));
    let chunks = body["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1], json!({"index": 1, "title": "Perception"}));
    let fetched_at = body["fetched_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(fetched_at).is_ok());
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 1);
    assert_eq!(fake.hits(&format!("{LESSON}.mdx")), 1);
    assert_eq!(
        fake.authorization().as_deref(),
        Some(&*format!("token {TOKEN}"))
    );
}

#[tokio::test]
async fn second_read_is_a_cache_hit_without_an_upstream_request() {
    let (fake, app) = setup().await;
    app.lesson_json(LESSON).await;
    let before = fake.total_hits();

    let (status, body) = app.lesson_json(LESSON).await;

    assert_eq!(status, 200);
    assert_eq!(body["cached"], true);
    assert_eq!(fake.total_hits(), before);
}

#[tokio::test]
async fn a_matching_if_none_match_answers_304_without_a_body() {
    let (_fake, app) = setup().await;
    let etag = app.lesson(LESSON).await.headers()["etag"].clone();

    let resp = app
        .client
        .get(app.url(&format!("/v1/lessons?path={LESSON}")))
        .header("x-user-id", "student-1")
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"], etag);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stale_copy_is_served_when_the_source_fails() {
    let fake = FakeGithub::start().await;
    fake.put(&format!("{LESSON}.md"), &markdown("Agents"));
    let app = spawn(&fake, &[("CONTENT_CACHE_TTL", "1")]).await;
    assert_eq!(app.lesson_json(LESSON).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    fake.fail(true);

    let (status, body) = app.lesson_json(LESSON).await;

    assert_eq!(status, 200);
    assert_eq!(body["stale"], true);
    assert_eq!(body["title"], "Agents");
}

#[tokio::test]
async fn a_failing_source_with_nothing_cached_answers_503() {
    let (fake, app) = setup().await;
    fake.fail(true);

    let (status, body) = app.lesson_json(LESSON).await;

    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "lesson_unavailable");
    assert!(body["error"]["request_id"].is_string());
}

#[tokio::test]
async fn a_lesson_missing_under_every_extension_answers_404() {
    let (fake, app) = setup().await;
    let missing = "01-Foundations/02-Agents/99-missing";

    let (status, body) = app.lesson_json(missing).await;

    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "lesson_not_found");
    for form in [".md", ".mdx", "/index.md", "/README.md"] {
        assert_eq!(
            fake.hits(&format!("{missing}{form}")),
            1,
            "{form} tried once"
        );
    }
}

#[tokio::test]
async fn a_failure_is_not_cached() {
    let (fake, app) = setup().await;
    fake.fail(true);
    assert_eq!(app.lesson_json(LESSON).await.0, 503);
    fake.fail(false);

    let (status, body) = app.lesson_json(LESSON).await;

    assert_eq!(status, 200);
    assert_eq!(body["cached"], false);
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 2);
}

#[tokio::test]
async fn concurrent_first_reads_share_one_upstream_fetch() {
    let (fake, app) = setup().await;
    fake.slow(Duration::from_millis(300));

    let reads = (0..200).map(|_| app.lesson(LESSON));
    let answers = futures::future::join_all(reads).await;

    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(fake.hits(&format!("{LESSON}.md")), 1);
    assert_eq!(fake.total_hits(), 1);
}

#[tokio::test]
async fn traversal_and_encoded_paths_are_refused_before_any_upstream_request() {
    let (fake, app) = setup().await;

    for raw in [
        "/v1/lessons?path=../x",
        "/v1/lessons?path=%2e%2e/x",
        "/v1/lessons?path=%252e%252e/x",
        "/v1/lessons?path=a%5Cb",
        "/v1/lessons?path=/etc/passwd",
    ] {
        let resp = app
            .client
            .get(app.url(raw))
            .header("x-user-id", "student-1")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_lesson_path", "{raw}");
    }
    assert_eq!(app.lesson_json("a\\b").await.0, 400);
    assert_eq!(fake.total_hits(), 0);
}

#[tokio::test]
async fn suggestions_offer_starter_prompts_from_the_lesson() {
    let (_fake, app) = setup().await;

    let resp = app
        .client
        .get(app.url(&format!("/chatkit/suggestions?lesson_path={LESSON}.md")))
        .header("x-user-id", "student-1")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["lesson_path"], LESSON);
    assert_eq!(body["title"], "What Is an AI Agent?");
    let labels: Vec<&str> = body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Teach me this lesson",
            "Explain Perception",
            "Quiz me on Action",
            "Summarise What Is an AI Agent?"
        ]
    );
    assert!(
        body["suggestions"][0]["prompt"]
            .as_str()
            .unwrap()
            .contains("What Is an AI Agent?")
    );
}
