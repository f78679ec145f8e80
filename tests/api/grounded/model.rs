//! Ask mode with a model (the fake captures the prompt): the passages retrieved from the whole
//! book, for the question and for the text the student highlighted, are the prompt's numbered
//! sources, and the answer's `[n]` becomes a citation annotation; with nothing relevant the
//! model is told to say the book does not cover it.

use super::{
    OTHER, OTHER_TITLE, annotations, ask, ask_about, book_app, cites, last_request, postgres,
    prompt_sources,
};
use crate::chatkit_client::{LESSON_TITLE, assistant_text};
use crate::fake_model::{self, FakeModel, Script};

/// A fake model answering `deltas`.
async fn answering(deltas: &[&str]) -> FakeModel {
    fake_model::start(Script {
        deltas: deltas.iter().map(|d| (*d).to_string()).collect(),
        ..Script::default()
    })
    .await
}

async fn another_lesson_is_in_the_prompt_and_cited(database_url: Option<&str>) {
    // The open lesson's three best sections come first, so the other lesson's is the 4th.
    let model = answering(&["The loop ends when the goal is met", " [", "4]."]).await;
    let app = book_app(database_url, Some(&model)).await;

    let events = ask(&app, "student-m", "When does the agent loop end?").await;

    let body = last_request(&model);
    let sources = prompt_sources(&body);
    let lessons: Vec<&str> = sources.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        lessons[..4],
        [LESSON_TITLE, LESSON_TITLE, LESSON_TITLE, OTHER_TITLE],
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
async fn a_question_about_another_lesson_puts_its_passage_in_the_prompt_and_the_citation_in_the_stream()
 {
    another_lesson_is_in_the_prompt_and_cited(None).await;
}

#[tokio::test]
async fn a_question_about_another_lesson_puts_its_passage_in_the_prompt_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    another_lesson_is_in_the_prompt_and_cited(Some(&url)).await;
}

async fn nothing_relevant_is_said_to_be_uncovered(database_url: Option<&str>) {
    let model = answering(&["The book does not seem to cover that."]).await;
    let app = book_app(database_url, Some(&model)).await;

    let events = ask(&app, "student-m", "zebra quasar xylophone?").await;

    let body = last_request(&model);
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("No passage of the book matches this question"));
    assert!(prompt_sources(&body).is_empty());
    assert!(annotations(&events).0.is_empty());
}

#[tokio::test]
async fn with_nothing_relevant_the_model_is_told_to_say_the_book_does_not_cover_it() {
    nothing_relevant_is_said_to_be_uncovered(None).await;
}

#[tokio::test]
async fn with_nothing_relevant_the_model_is_told_to_say_the_book_does_not_cover_it_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    nothing_relevant_is_said_to_be_uncovered(Some(&url)).await;
}

/// Words of the other lesson that the open lesson does not have.
const HIGHLIGHT: &str = "forever or spend money";
/// A question whose words all say nothing about its subject.
const VAGUE: &str = "What does this mean?";

async fn the_highlight_finds_its_lesson(database_url: Option<&str>) {
    let model = answering(&["Without limits it can spend money", " [1]."]).await;
    let app = book_app(database_url, Some(&model)).await;

    // Without the highlight, the vague question finds nothing.
    let alone = ask(&app, "student-h", VAGUE).await;
    assert!(
        prompt_sources(&last_request(&model)).is_empty(),
        "the question alone matches nothing"
    );
    assert!(annotations(&alone).0.is_empty());

    let events = ask_about(&app, "student-h", VAGUE, Some(HIGHLIGHT)).await;

    let body = last_request(&model);
    assert_eq!(
        prompt_sources(&body),
        [(1, OTHER_TITLE.to_string())],
        "the highlighted words found the other lesson"
    );
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("section=\"Why loops need limits\""),
        "{system}"
    );
    assert!(system.contains("spend money without progress"), "{system}");
    let answer = assistant_text(&events);
    assert_eq!(answer, "Without limits it can spend money.");
    let (stored, added) = annotations(&events);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(cites(&stored[0], OTHER), "{stored:?}");
    assert_eq!(stored[0]["source"]["description"], OTHER_TITLE);
    assert_eq!(added, stored);
}

#[tokio::test]
async fn highlighted_text_finds_the_passage_a_vague_question_is_about() {
    the_highlight_finds_its_lesson(None).await;
}

#[tokio::test]
async fn highlighted_text_finds_the_passage_a_vague_question_is_about_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    the_highlight_finds_its_lesson(Some(&url)).await;
}
