//! Ask mode grounded in the whole book: a question about another lesson is answered from that
//! lesson's passage, cited as a ChatKit annotation (every event is validated against the
//! published ChatKit schemas by the test client) and in the REST mirror; the offline tutor
//! quotes the sentence; a question the book does not cover is answered as such; a finished
//! lesson suggests the next one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, ask_message, assistant_text, lessons_dir};
use crate::fake_model::{self, FakeModel, Script};
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

/// Asks `question` in ask mode on [`LESSON`] as a new thread: the events.
async fn ask(app: &TestApp, user: &str, question: &str) -> Vec<Value> {
    let body = json!({"type":"threads.create","params":{"input": ask_message(question)}});
    app.chatkit_stream(user, body, &format!("?lesson_path={LESSON}"))
        .await
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

fn cites(annotation: &Value, path: &str) -> bool {
    annotation["type"] == "annotation"
        && annotation["source"]["type"] == "entity"
        && annotation["source"]["data"]["path"] == path
}

async fn the_offline_tutor_quotes_the_sentence_of_another_lesson_with_its_lesson(app: &TestApp) {
    let events = ask(app, "student-q", SENTENCE).await;
    let answer = assistant_text(&events);
    assert!(
        answer.replace("**", "").contains(SENTENCE),
        "the sentence comes back: {answer}"
    );
    assert!(answer.contains(OTHER_TITLE), "with its lesson: {answer}");
    assert!(
        !answer.contains("[1]"),
        "the citation became an annotation: {answer}"
    );
    let (stored, added) = annotations(&events);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(cites(&stored[0], OTHER), "{stored:?}");
    assert_eq!(stored[0]["source"]["description"], OTHER_TITLE);
    let at = stored[0]["index"].as_u64().expect("an inline place") as usize;
    assert!(at <= answer.chars().count());
    assert_eq!(added, stored, "streamed as they are stored");

    // The same citation in the REST mirror.
    let thread_id = events[0]["thread"]["id"].as_str().unwrap();
    let items: Value = app
        .client
        .get(app.url(&format!("/v1/threads/{thread_id}/items?order=asc")))
        .header("x-user-id", "student-q")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tutor = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["role"] == "tutor")
        .expect("the answer");
    assert_eq!(tutor["citations"][0]["path"], OTHER, "{tutor}");
    assert_eq!(tutor["citations"][0]["lesson_title"], OTHER_TITLE);

    // Nothing in the book: the tutor says so, and cites nothing.
    let events = ask(app, "student-q", "zebra quasar xylophone?").await;
    let answer = assistant_text(&events);
    assert!(
        answer.starts_with("I couldn't find that in the book."),
        "{answer}"
    );
    assert!(annotations(&events).0.is_empty());
}

#[tokio::test]
async fn the_offline_tutor_answers_from_another_lesson_on_sqlite() {
    let app = book_app(None, None).await;
    the_offline_tutor_quotes_the_sentence_of_another_lesson_with_its_lesson(&app).await;
}

#[tokio::test]
async fn the_offline_tutor_answers_from_another_lesson_on_postgres() {
    // Without it a skip notice is printed (a failure under CI).
    let Some(admin) = test_database_url().await else {
        return;
    };
    let url = fresh_postgres_database(&admin).await;
    let app = book_app(Some(&url), None).await;
    the_offline_tutor_quotes_the_sentence_of_another_lesson_with_its_lesson(&app).await;
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

#[tokio::test]
async fn a_question_about_another_lesson_puts_its_passage_in_the_prompt_and_the_citation_in_the_stream()
 {
    let model = fake_model::start(Script {
        // The open lesson's three best sections come first, so the other lesson's is the 4th.
        deltas: vec![
            "The loop ends when the goal is met".into(),
            " [".into(),
            "4].".into(),
        ],
        ..Script::default()
    })
    .await;
    let app = book_app(None, Some(&model)).await;

    let events = ask(&app, "student-m", "When does the agent loop end?").await;

    let body = last_request(&model);
    let sources = prompt_sources(&body);
    let lessons: Vec<&str> = sources.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        lessons[..4],
        [
            "What Is an AI Agent?",
            "What Is an AI Agent?",
            "What Is an AI Agent?",
            OTHER_TITLE
        ],
        "the open lesson first, then the book: {sources:?}"
    );
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("The loop ends\nwhen the goal is met"),
        "{system}"
    );
    let answer = assistant_text(&events);
    assert_eq!(answer, "The loop ends when the goal is met.");
    let (stored, added) = annotations(&events);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(cites(&stored[0], OTHER), "{stored:?}");
    assert_eq!(stored[0]["index"], 34, "where the citation stood");
    assert_eq!(added, stored);
}

#[tokio::test]
async fn with_nothing_relevant_the_model_is_told_to_say_the_book_does_not_cover_it() {
    let model = fake_model::start(Script {
        deltas: vec!["The book does not seem to cover that.".into()],
        ..Script::default()
    })
    .await;
    let app = book_app(None, Some(&model)).await;

    let events = ask(&app, "student-m", "zebra quasar xylophone?").await;

    let body = last_request(&model);
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("No passage of the book matches this question"));
    assert!(prompt_sources(&body).is_empty());
    assert!(annotations(&events).0.is_empty());
}

#[tokio::test]
async fn a_finished_lesson_suggests_the_next_lesson_of_the_synced_book() {
    let app = book_app(None, None).await;
    let (thread_id, _) = app.start_thread("student-n", "\u{200B}").await;

    let mut last = String::new();
    for _ in 0..20 {
        last = assistant_text(&app.send("student-n", &thread_id, "skip").await);
        if last.contains("You finished") {
            break;
        }
    }

    assert!(last.contains("You finished"), "the lesson ends: {last}");
    assert!(
        last.contains(&format!("Up next: **{OTHER_TITLE}** (`{OTHER}`)")),
        "the next lesson of the book is suggested: {last}"
    );
}
