//! Ask mode grounded in the whole book: a question about another lesson is answered from that
//! lesson's passage, cited as a ChatKit annotation (every event is validated against the
//! published ChatKit schemas by the test client) and in the REST mirror; the offline tutor
//! quotes the sentence; a question the book does not cover is answered as such; a finished
//! lesson suggests the next one; each on SQLite and Postgres.

mod model;
mod offline;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, ask_message, lessons_dir};
use crate::fake_model::FakeModel;
use crate::helpers::{
    TestApp, fresh_postgres_database, pairs, spawn_app_with, spawn_with_config, test_config,
    test_database_url,
};

/// The other sample lesson, and a sentence only it has.
const OTHER: &str = "01-Foundations/02-Agents/02-the-agent-loop";
const OTHER_TITLE: &str = "The Agent Loop";
const SENTENCE: &str = "The loop ends when the goal is met, when a step limit is reached, or \
                        when the agent decides it needs a person.";

/// A service over the sample lessons that syncs its empty index at start (as the embedded
/// default does on a first run), with a worker in process; waits until the book is indexed.
async fn book_app(database_url: Option<&str>, model: Option<&FakeModel>) -> TestApp {
    let mut vars = pairs(&[
        ("LESSONS_DIR", &lessons_dir()),
        ("WORKER_IN_PROCESS", "true"),
        ("SYNC_ON_START", "true"),
        ("JOB_POLL_INTERVAL_MS", "50"),
    ]);
    if let Some(model) = model {
        vars.extend(pairs(&[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &model.base_url()),
            ("MODEL_TIMEOUT_SECS", "10"),
        ]));
    }
    // Each test its own database: a fresh SQLite file unless `database_url` names one (the
    // default file under `data/` would be shared by the tests running side by side).
    let app = match database_url {
        Some(url) => {
            vars.extend(pairs(&[("DATABASE_URL", url)]));
            spawn_with_config(test_config(vars)).await
        }
        None => spawn_app_with(vars).await,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, toc) = app.get_json("/v1/book/toc").await;
        if status == 200 && toc["lessons_total"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first sync did not index the book: {toc}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app
}

/// A fresh Postgres database for one test, or `None` without `TEST_DATABASE_URL` (a skip
/// notice is printed then, a failure under CI).
async fn postgres() -> Option<String> {
    let admin = test_database_url().await?;
    Some(fresh_postgres_database(&admin).await)
}

/// Asks `question` in ask mode on [`LESSON`] as a new thread: the events.
async fn ask(app: &TestApp, user: &str, question: &str) -> Vec<Value> {
    ask_about(app, user, question, None).await
}

/// The same with the text the student highlighted (ChatKit's `selected_text` parameter).
async fn ask_about(
    app: &TestApp,
    user: &str,
    question: &str,
    selected: Option<&str>,
) -> Vec<Value> {
    let body = json!({"type":"threads.create","params":{"input": ask_message(question)}});
    let mut query = format!("?lesson_path={LESSON}");
    if let Some(selected) = selected {
        let encoded: String = url::form_urlencoded::byte_serialize(selected.as_bytes()).collect();
        query.push_str(&format!("&selected_text={encoded}"));
    }
    app.chatkit_stream(user, body, &query).await
}

/// The annotations of the finished assistant message, and the `annotation_added` updates.
fn annotations(events: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let done = events
        .iter()
        .rfind(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .expect("an answer");
    let stored = done["item"]["content"][0]["annotations"]
        .as_array()
        .unwrap()
        .clone();
    let added = events
        .iter()
        .filter(|e| e["update"]["type"] == "assistant_message.content_part.annotation_added")
        .map(|e| e["update"]["annotation"].clone())
        .collect();
    (stored, added)
}

/// Whether `annotation` is a ChatKit entity source naming the lesson at `path`.
fn cites(annotation: &Value, path: &str) -> bool {
    annotation["type"] == "annotation"
        && annotation["source"]["type"] == "entity"
        && annotation["source"]["data"]["path"] == path
}

/// The last request the fake model was sent.
fn last_request(model: &FakeModel) -> Value {
    model
        .last_body
        .lock()
        .unwrap()
        .clone()
        .expect("the model was asked")
}

/// The sources of the system message: `(number, lesson)`.
fn prompt_sources(body: &Value) -> Vec<(u64, String)> {
    let system = body["messages"][0]["content"].as_str().unwrap();
    system
        .split("<source number=\"")
        .skip(1)
        .map(|rest| {
            let (number, rest) = rest.split_once('"').unwrap();
            let lesson = rest
                .split_once("lesson=\"")
                .unwrap()
                .1
                .split_once('"')
                .unwrap()
                .0;
            (number.parse().unwrap(), lesson.to_string())
        })
        .collect()
}
