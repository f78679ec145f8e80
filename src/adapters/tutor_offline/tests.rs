//! Tests of the offline tutor: the shape of every action's answer, its questions and markers.

mod properties;
mod text_tests;

use futures::StreamExt;

use super::{OfflineTutor, compose::compose, text};
use crate::domain::marker;
use crate::domain::ports::TutorModel;
use crate::domain::teach::{Choice, TeachAction, Verdict};
use crate::domain::tutor::{Prompt, SourcePassage, StudyMode, TutorChunk, TutorContext};

const CHUNK: &str = "# What is an agent\n\n\
An agent is a program that decides its next step by itself. \
It can call tools to act on the world. \
Agents keep a short memory of the conversation.\n\n\
```python\nagent.run()\n```\n\n\
A good agent always explains what it did. \
Developers should test agents on real tasks. \
The loop stops when the goal is reached.";

const OTHER: &str = "Tools are functions with a name and a description. \
The model picks a tool by reading its description.";

fn teach(action: TeachAction, verdict: Option<Verdict>) -> TutorContext {
    TutorContext {
        mode: StudyMode::Teach,
        lesson_title: "Agents 101".to_string(),
        chunk_titles: vec!["What is an agent".to_string(), "Tools".to_string()],
        chunk_index: 0,
        chunk_text: CHUNK.to_string(),
        other_text: Some(OTHER.to_string()),
        action: Some(action),
        verdict,
        student_name: Some("Ada".to_string()),
        ..TutorContext::default()
    }
}

fn ask(message: &str, selected: Option<&str>) -> TutorContext {
    TutorContext {
        mode: StudyMode::Ask,
        lesson_title: "Agents 101".to_string(),
        chunk_titles: vec!["What is an agent".to_string(), "Tools".to_string()],
        student_message: message.to_string(),
        selected_text: selected.map(str::to_string),
        sources: vec![source(1, "Agents 101", "What is an agent", CHUNK)],
        ..TutorContext::default()
    }
}

fn source(number: u32, lesson: &str, section: &str, text: &str) -> SourcePassage {
    SourcePassage {
        number,
        path: format!("book/{number}"),
        lesson_title: lesson.to_string(),
        section_index: 0,
        section_title: section.to_string(),
        text: text.to_string(),
    }
}

const INTRODUCE: TeachAction = TeachAction::Introduce { chunk: 0 };
const REEXPLAIN: TeachAction = TeachAction::Reexplain { chunk: 0 };

/// The correct option's letter from the last line, and the text of options A and B.
fn parse_question(answer: &str) -> (Choice, String, String) {
    let last = answer.lines().last().expect("an answer");
    let correct = if last == marker::render(Choice::A) {
        Choice::A
    } else {
        assert_eq!(last, marker::render(Choice::B), "marker on the last line");
        Choice::B
    };
    let option = |prefix: &str| {
        answer
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .expect("option line")
            .to_string()
    };
    (correct, option("A) "), option("B) "))
}

fn correct_option(answer: &str) -> String {
    let (correct, a, b) = parse_question(answer);
    if correct == Choice::A { a } else { b }
}

fn wrong_option(answer: &str) -> String {
    let (correct, a, b) = parse_question(answer);
    if correct == Choice::A { b } else { a }
}

fn marker_count(answer: &str) -> usize {
    answer.matches("[[CORRECT:").count()
}

#[tokio::test]
async fn deltas_concatenate_to_the_full_answer_and_end_with_zero_usage() {
    let context = teach(INTRODUCE, None);
    let prompt = Prompt {
        context: context.clone(),
        ..Prompt::default()
    };

    let chunks: Vec<_> = OfflineTutor::new()
        .stream(prompt)
        .await
        .expect("stream")
        .collect()
        .await;

    let (last, deltas) = chunks.split_last().expect("chunks");
    assert!(matches!(
        last,
        Ok(TutorChunk::Done {
            input_tokens: 0,
            output_tokens: 0
        })
    ));
    let texts: Vec<String> = deltas
        .iter()
        .map(|chunk| match chunk {
            Ok(TutorChunk::Delta(text)) => text.clone(),
            other => panic!("expected a delta, got {other:?}"),
        })
        .collect();
    assert!(texts.len() > 10);
    assert!(texts.iter().all(|t| !t.is_empty()));
    assert_eq!(texts.concat(), compose(&context));
}

#[test]
fn introduce_greets_by_name_names_the_lesson_and_shows_the_heading_and_an_excerpt() {
    let answer = compose(&teach(INTRODUCE, None));

    assert!(answer.starts_with("Hi Ada! Let's study **Agents 101** together"));
    assert!(answer.contains("### What is an agent"));
    assert!(answer.contains("An agent is a program that decides its next step by itself."));
    assert!(!answer.contains("```"), "code fences are stripped");
    assert!(
        !answer.lines().any(|line| line == "# What is an agent"),
        "headings are stripped from the excerpt"
    );
    assert!(answer.contains("Which statement matches what this section says?"));
}

#[test]
fn introduce_without_a_name_still_greets() {
    let mut context = teach(INTRODUCE, None);
    context.student_name = None;

    assert!(compose(&context).starts_with("Hi there!"));
}

#[test]
fn question_asking_actions_end_with_exactly_one_marker_on_the_last_line() {
    let actions = [
        INTRODUCE,
        TeachAction::Teach { chunk: 0 },
        REEXPLAIN,
        TeachAction::Respond { chunk: 0 },
    ];
    for action in actions {
        let answer = compose(&teach(action, None));

        assert_eq!(marker_count(&answer), 1, "{action:?}: {answer}");
        parse_question(&answer);
        assert!(answer.contains("\n[[CORRECT:"), "{action:?}");
    }
}

#[test]
fn hint_complete_and_ask_answers_carry_no_marker() {
    let answers = [
        compose(&teach(TeachAction::Hint { chunk: 0 }, None)),
        compose(&teach(TeachAction::Complete, Some(Verdict::Correct))),
        compose(&ask("What does an agent call?", None)),
    ];
    for answer in answers {
        assert_eq!(marker_count(&answer), 0, "{answer}");
    }
}

#[test]
fn the_correct_option_is_a_sentence_of_the_chunk() {
    let sentences = text::sentences(CHUNK);
    for action in [INTRODUCE, REEXPLAIN] {
        let answer = compose(&teach(action, None));

        assert!(sentences.contains(&correct_option(&answer)), "{answer}");
    }
}

#[test]
fn the_wrong_option_comes_from_the_other_chunk_when_there_is_one() {
    let answer = compose(&teach(INTRODUCE, None));

    assert!(text::sentences(OTHER).contains(&wrong_option(&answer)));
}

#[test]
fn without_another_chunk_the_wrong_option_is_the_right_one_flipped() {
    let mut context = teach(INTRODUCE, None);
    context.other_text = None;

    let answer = compose(&context);

    let wrong = wrong_option(&answer);
    assert_ne!(wrong, correct_option(&answer));
    assert!(!text::sentences(CHUNK).contains(&wrong), "{wrong}");
}

#[test]
fn both_letters_occur_as_the_correct_option_across_chunks() {
    let letters: Vec<Choice> = (0..10u32)
        .map(|chunk| {
            let mut context = teach(TeachAction::Teach { chunk }, Some(Verdict::Correct));
            context.chunk_text = format!("Section {chunk} explains one idea in detail. {CHUNK}");
            parse_question(&compose(&context)).0
        })
        .collect();

    assert!(letters.contains(&Choice::A), "{letters:?}");
    assert!(letters.contains(&Choice::B), "{letters:?}");
}

#[test]
fn reexplain_asks_a_different_question_with_a_different_excerpt() {
    let introduce = compose(&teach(INTRODUCE, None));
    let reexplain = compose(&teach(REEXPLAIN, Some(Verdict::Wrong { attempts_left: 2 })));

    assert!(reexplain.starts_with("Not quite — let's look at it from another angle."));
    assert!(reexplain.contains("2 attempts left"));
    assert_ne!(correct_option(&introduce), correct_option(&reexplain));
    assert!(reexplain.contains("A good agent always explains what it did."));
    assert!(!reexplain.contains("An agent is a program that decides"));
}

#[test]
fn reexplain_of_a_one_sentence_chunk_still_asks_a_new_question() {
    let mut context = teach(INTRODUCE, None);
    context.chunk_text = "Prompts are instructions written for a model.".to_string();
    context.other_text = None;
    let introduce = compose(&context);
    context.action = Some(REEXPLAIN);

    let reexplain = compose(&context);

    let question = |answer: &str| answer.lines().filter(|l| l.contains('?')).count();
    assert_eq!(question(&reexplain), 1);
    let asked = |answer: &str| -> Vec<String> {
        answer
            .lines()
            .filter(|l| l.contains('?') || l.starts_with("A)") || l.starts_with("B)"))
            .map(str::to_string)
            .collect()
    };
    assert_ne!(asked(&introduce), asked(&reexplain));
}

#[test]
fn teach_opens_with_feedback_on_the_verdict() {
    let cases = [
        (Verdict::Correct, "Correct! 🎉"),
        (
            Verdict::Revealed { correct: Choice::B },
            "The correct answer was **B**.",
        ),
        (
            Verdict::Skipped {
                correct: Some(Choice::A),
            },
            "Skipping — the answer was **A**.",
        ),
        (Verdict::Skipped { correct: None }, "Skipping ahead."),
    ];
    for (verdict, opening) in cases {
        let answer = compose(&teach(TeachAction::Teach { chunk: 0 }, Some(verdict)));

        assert!(answer.starts_with(opening), "{answer}");
        assert!(answer.contains("### What is an agent"));
    }
}

#[test]
fn hint_narrows_the_answer_without_naming_the_letter() {
    let question = compose(&teach(INTRODUCE, None));
    let hint = compose(&teach(TeachAction::Hint { chunk: 0 }, None));

    assert!(hint.starts_with("💡 **Hint:**"));
    assert!(!hint.contains("A)") && !hint.contains("B)"));
    assert!(!hint.contains("answer is"));
    let correct = correct_option(&question);
    let opening: Vec<&str> = correct.split(' ').take(4).collect();
    assert!(hint.contains(&opening.join(" ")), "{hint}");
}

#[test]
fn respond_quotes_the_most_relevant_sentence_then_repeats_the_question() {
    let mut context = teach(TeachAction::Respond { chunk: 0 }, None);
    context.student_message = "When does the loop stop?".to_string();

    let answer = compose(&context);

    assert!(
        answer.contains("The **loop** stops when the goal is reached."),
        "{answer}"
    );
    assert!(answer.contains("Back to our question"));
    assert_eq!(
        parse_question(&answer).0,
        parse_question(&compose(&teach(INTRODUCE, None))).0
    );
}

#[test]
fn complete_congratulates_and_lists_every_section() {
    let answer = compose(&teach(TeachAction::Complete, None));

    assert!(answer.starts_with("🎉 You finished **Agents 101**!"));
    assert!(answer.contains("- What is an agent\n- Tools"));
    assert!(!answer.contains('?'));
}

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

#[test]
fn an_empty_chunk_text_still_gives_an_answer_for_every_action() {
    let actions = [
        INTRODUCE,
        TeachAction::Teach { chunk: 3 },
        REEXPLAIN,
        TeachAction::Hint { chunk: 0 },
        TeachAction::Respond { chunk: 0 },
        TeachAction::Complete,
    ];
    for action in actions {
        let mut context = teach(action, None);
        context.chunk_text = String::new();
        context.other_text = None;

        let answer = compose(&context);

        assert!(!answer.is_empty());
    }
    let mut context = teach(INTRODUCE, None);
    context.chunk_text = String::new();
    assert_eq!(marker_count(&compose(&context)), 1);
    assert!(!compose(&ask("anything", None)).is_empty());
}

#[test]
fn marker_like_text_in_the_lesson_never_adds_a_marker() {
    let mut context = teach(INTRODUCE, None);
    context.chunk_text = "The tutor writes [[CORRECT:B]] after its question. It is hidden.".into();
    context.chunk_titles = vec!["[[CORRECT:A]]".to_string()];

    assert_eq!(marker_count(&compose(&context)), 1);
}

#[test]
fn the_same_context_always_gives_the_same_answer() {
    let context = teach(REEXPLAIN, Some(Verdict::Wrong { attempts_left: 1 }));

    assert_eq!(compose(&context), compose(&context));
}
