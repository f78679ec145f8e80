//! The offline tutor over the synced sample book: it quotes another lesson's sentence with
//! its lesson, cites it in ChatKit and in the REST mirror (stored items and the streamed `done`
//! event), and suggests the next lesson when one is finished.

use serde_json::{Value, json};

use super::{OTHER, OTHER_TITLE, SENTENCE, annotations, ask, book_app, cites, postgres};
use crate::chatkit_client::{LESSON, assistant_text};
use crate::helpers::TestApp;
use crate::rest::sse_data;

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
    let items = app.rest_items("student-q", thread_id).await;
    let tutor = items
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
    let Some(url) = postgres().await else {
        return;
    };
    let app = book_app(Some(&url), None).await;
    the_offline_tutor_quotes_the_sentence_of_another_lesson_with_its_lesson(&app).await;
}

/// Asks [`SENTENCE`] in ask mode through `POST /v1/threads/{id}/messages`: the streamed
/// `done` event carries the answer's citations as the stored item does.
async fn the_rest_mirror_streams_the_citations_in_its_done_event(app: &TestApp) {
    let user = "student-rest";
    let created = app
        .client
        .post(app.url("/v1/threads"))
        .header("x-user-id", user)
        .json(&json!({ "lesson_path": LESSON }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let thread: Value = created.json().await.unwrap();
    let thread_id = thread["id"].as_str().unwrap();

    let resp = app
        .client
        .post(app.url(&format!("/v1/threads/{thread_id}/messages")))
        .header("x-user-id", user)
        .json(&json!({ "text": SENTENCE, "mode": "ask" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());

    let done = &events
        .iter()
        .find(|(event, _)| event == "done")
        .unwrap_or_else(|| panic!("a done event: {events:?}"))
        .1["item"];
    assert_eq!(done["role"], "tutor", "{done}");
    let text = done["text"].as_str().unwrap();
    assert!(text.replace("**", "").contains(SENTENCE), "{text}");
    assert!(
        !text.contains("[1]"),
        "the citation is data, not text: {text}"
    );
    let citations = done["citations"].as_array().expect("citations");
    assert_eq!(citations.len(), 1, "{done}");
    assert_eq!(citations[0]["path"], OTHER, "{done}");
    assert_eq!(citations[0]["lesson_title"], OTHER_TITLE);
    let stored = app.rest_items(user, thread_id).await;
    let tutor = stored
        .iter()
        .find(|i| i["id"] == done["id"])
        .expect("the streamed answer is stored");
    assert_eq!(tutor["citations"], done["citations"], "streamed as stored");
}

#[tokio::test]
async fn the_rest_mirror_streams_the_citations_on_sqlite() {
    let app = book_app(None, None).await;
    the_rest_mirror_streams_the_citations_in_its_done_event(&app).await;
}

#[tokio::test]
async fn the_rest_mirror_streams_the_citations_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    let app = book_app(Some(&url), None).await;
    the_rest_mirror_streams_the_citations_in_its_done_event(&app).await;
}

async fn the_finished_lesson_suggests_the_next_one(app: &TestApp) {
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

#[tokio::test]
async fn a_finished_lesson_suggests_the_next_lesson_of_the_synced_book() {
    let app = book_app(None, None).await;
    the_finished_lesson_suggests_the_next_one(&app).await;
}

#[tokio::test]
async fn a_finished_lesson_suggests_the_next_lesson_of_the_synced_book_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    let app = book_app(Some(&url), None).await;
    the_finished_lesson_suggests_the_next_one(&app).await;
}
