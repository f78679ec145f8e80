//! `GET /v1/book/search` end to end: a small book synced from a local folder, then searched
//! by full text alone, and hybrid with the fake embeddings model.

use std::path::Path;

use serde_json::{Value, json};

use crate::book_sync::{ADMIN, write_book};
use crate::fake_model::{FakeModel, Script};
use crate::helpers::{TestApp, pairs, spawn_app_with, spawn_with_config, test_config};

/// A section's text: `sentence` and neutral words enough to be a teaching step of its own.
fn para(sentence: &str) -> String {
    format!(
        "{sentence} {}",
        "This paragraph adds plain context so the section is long enough to stand alone. "
            .repeat(3)
    )
}

/// Two lessons: one on agents (its second section answers "what does the agent loop do"),
/// one on models (a section mentions a loop, another is about automobiles).
fn book() -> Vec<(&'static str, String)> {
    vec![
        (
            "01-Intro/01-Basics/01-agents.md",
            format!(
                "---\ntitle: Agents\n---\n\n{}\n\n## The agent loop\n\n{}\n\n## Tools\n\n{}\n",
                para("An agent is a program that pursues a goal with a model."),
                para(
                    "The agent loop observes the environment, decides on the next step and \
                     acts, again and again until the goal is met."
                ),
                para("Tools let a program act on the world."),
            ),
        ),
        (
            "01-Intro/01-Basics/02-models.md",
            format!(
                "---\ntitle: Models\n---\n\n{}\n\n## Automobiles\n\n{}\n",
                para("A language model predicts the next token; training runs a loop over data."),
                para("An automobile has four wheels and an engine."),
            ),
        ),
    ]
}

/// A service on SQLite (or on `DATABASE_URL` when `extra` sets it) with the book synced.
async fn app_with_book(dir: &Path, extra: &[(&str, &str)]) -> TestApp {
    write_book(dir, &book());
    let folder = dir.display().to_string();
    let mut vars = pairs(&[
        ("LESSONS_DIR", &folder),
        ("ADMIN_SECRET", ADMIN),
        ("JOB_BACKOFF_MIN_MS", "10"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("WORKER_IN_PROCESS", "true"),
    ]);
    vars.extend(pairs(extra));
    let app = if extra.iter().any(|(k, _)| *k == "DATABASE_URL") {
        spawn_with_config(test_config(vars)).await
    } else {
        spawn_app_with(vars).await
    };
    let job = app.sync_and_wait(json!({})).await;
    assert_eq!(job["status"], "completed", "{job}");
    app
}

async fn search(app: &TestApp, query: &str) -> Value {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let (status, answer) = app.get_json(&format!("/v1/book/search?q={q}")).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn found(answer: &Value) -> Vec<(String, u64)> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["section_index"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn hybrid_model() -> Script {
    Script {
        embedding_topics: vec![("automobile", 0), ("vehicle", 0), ("loop", 1)],
        embeddings_fail_on: Some("offline"),
        ..Script::default()
    }
}

/// The book synced with the fake embeddings model, on SQLite or on `database_url`.
async fn hybrid_app(dir: &Path, model: &FakeModel, database_url: Option<&str>) -> TestApp {
    let base = model.base_url();
    let mut vars = vec![
        ("EMBEDDINGS_MODEL", "text-embedding-test"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", base.as_str()),
    ];
    if let Some(url) = database_url {
        vars.push(("DATABASE_URL", url));
    }
    app_with_book(dir, &vars).await
}

#[tokio::test]
async fn a_question_finds_the_answering_passage_first_with_a_highlighted_snippet() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_book(dir.path(), &[]).await;

    // Act
    let answer = search(&app, "What does the agent loop do?").await;
    let nothing = search(&app, "zebra giraffe").await;

    // Assert
    assert_eq!(answer["query"], "What does the agent loop do?");
    assert_eq!(answer["mode"], "full_text");
    let results = found(&answer);
    assert_eq!(
        results[0],
        ("01-Intro/01-Basics/01-agents".to_owned(), 1),
        "{answer}"
    );
    assert!(
        results.contains(&("01-Intro/01-Basics/02-models".to_owned(), 0)),
        "any word may match: {answer}"
    );
    let first = &answer["results"][0];
    assert_eq!(first["lesson_title"], "Agents");
    assert_eq!(first["section_title"], "The agent loop");
    let snippet = first["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("<mark>agent</mark> <mark>loop</mark>"),
        "{snippet}"
    );
    assert!(!snippet.contains("##"), "plain text: {snippet}");
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert_eq!(nothing["results"], json!([]));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_query_and_limit_are_bounded() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_book(dir.path(), &[]).await;
    let long = "a".repeat(201);

    // Act / Assert
    for (query, code) in [
        ("/v1/book/search", "bad_request"),
        ("/v1/book/search?q=", "invalid_query"),
        (&*format!("/v1/book/search?q={long}"), "invalid_query"),
        ("/v1/book/search?q=agent&limit=0", "bad_request"),
        ("/v1/book/search?q=agent&limit=51", "bad_request"),
        ("/v1/book/search?q=agent&limit=x", "bad_request"),
    ] {
        let (status, body) = app.get_json(query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }
    let (status, one) = app.get_json("/v1/book/search?q=agent%20loop&limit=1").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(found(&one).len(), 1);
    let (status, syntax) = app
        .get_json("/v1/book/search?q=%22agent*%20OR%20(loop%20NEAR%20x)%20%26%20%7C%20!")
        .await;
    assert_eq!(status, 200, "query syntax is only words: {syntax}");
    let (status, _) = app
        .get_json(&format!("/v1/book/search?q={}", "é".repeat(200)))
        .await;
    assert_eq!(status, 200, "200 characters, not bytes");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn with_an_embeddings_model_a_passage_is_found_by_meaning_alone() {
    found_by_meaning_alone(None).await;
}

#[tokio::test]
async fn with_an_embeddings_model_a_passage_is_found_by_meaning_alone_on_postgres() {
    let Some(admin) = crate::helpers::test_database_url().await else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    found_by_meaning_alone(Some(&url)).await;
}

async fn found_by_meaning_alone(database_url: Option<&str>) {
    // Arrange
    let model = crate::fake_model::start(hybrid_model()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = hybrid_app(dir.path(), &model, database_url).await;

    // Act
    let by_meaning = search(&app, "Which vehicle should I buy?").await;
    let both = search(&app, "What does the agent loop do?").await;

    // Assert
    assert_eq!(by_meaning["mode"], "hybrid", "{by_meaning}");
    assert_eq!(
        found(&by_meaning),
        [("01-Intro/01-Basics/02-models".to_owned(), 1)],
        "only the similar section; unrelated ones are no match: {by_meaning}"
    );
    let snippet = by_meaning["results"][0]["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with("Automobiles An automobile has four wheels"),
        "{snippet}"
    );
    assert_eq!(both["mode"], "hybrid");
    assert_eq!(
        found(&both)[0],
        ("01-Intro/01-Basics/01-agents".to_owned(), 1),
        "{both}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn when_the_embeddings_model_fails_the_search_falls_back_to_full_text() {
    // Arrange: the model fails on any text holding "offline".
    let model = crate::fake_model::start(hybrid_model()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = hybrid_app(dir.path(), &model, None).await;

    // Act
    let answer = search(&app, "What does the agent loop do offline?").await;

    // Assert
    assert_eq!(answer["mode"], "full_text", "{answer}");
    assert_eq!(
        found(&answer)[0],
        ("01-Intro/01-Basics/01-agents".to_owned(), 1)
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn on_postgres_the_answering_passage_is_first_too() {
    // Arrange
    let Some(admin) = crate::helpers::test_database_url().await else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_book(dir.path(), &[("DATABASE_URL", &url)]).await;

    // Act
    let answer = search(&app, "What does the agent loop do?").await;

    // Assert
    assert_eq!(answer["mode"], "full_text");
    let results = found(&answer);
    assert_eq!(
        results[0],
        ("01-Intro/01-Basics/01-agents".to_owned(), 1),
        "{answer}"
    );
    assert!(results.contains(&("01-Intro/01-Basics/02-models".to_owned(), 0)));
    let snippet = answer["results"][0]["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("<mark>agent</mark> <mark>loop</mark>"),
        "{snippet}"
    );
    app.stop().await.unwrap();
}
