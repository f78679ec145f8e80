//! Ask mode answers of the offline tutor: the best matching sentence of the highlight or of
//! the book's passages, quoted with its lesson and cited; or that the book does not cover it.

use super::super::compose::compose;
use super::{ask, source};

#[test]
fn ask_quotes_the_best_matching_sentence_with_its_lesson_and_citation() {
    let answer = compose(&ask("Which tools does an agent use to act?", None));

    assert_eq!(
        answer,
        "Here's what the book says, in **Agents 101** — *What is an agent*:\n\n> It can call **tools** to act on the world. [1]"
    );
}

#[test]
fn ask_quotes_another_lesson_when_its_sentence_matches_best() {
    let mut context = ask("How does a planner decompose a goal into steps?", None);
    context.sources.push(source(
        2,
        "Planning",
        "Planners",
        "A planner decomposes a goal into steps. Each step is checked.",
    ));
    let answer = compose(&context);

    assert!(
        answer.starts_with("Here's what the book says, in **Planning** — *Planners*:"),
        "{answer}"
    );
    assert!(answer.contains("goal into steps. [2]"), "{answer}");
}

#[test]
fn ask_prefers_the_highlighted_text() {
    let answer = compose(&ask(
        "what is a description for?",
        Some("The description tells the model when to use the tool."),
    ));

    assert!(
        answer.contains("tells the model when to use the tool"),
        "{answer}"
    );
    assert!(answer.starts_with("From the passage you highlighted"));
    assert_eq!(answer.matches("**").count(), 2);
}

#[test]
fn ask_without_a_matching_sentence_quotes_the_closest_passage() {
    let answer = compose(&ask("zebra?", None));

    assert!(
        answer.starts_with("The closest passage I found, in **Agents 101**"),
        "{answer}"
    );
    assert!(answer.ends_with("[1]"));
    assert!(!answer.contains('?'));
}

#[test]
fn ask_with_nothing_found_in_the_book_says_so() {
    let mut context = ask("zebra?", None);
    context.sources.clear();
    let answer = compose(&context);

    assert!(
        answer.starts_with("I couldn't find that in the book."),
        "{answer}"
    );
    assert!(!answer.contains('['));
}
