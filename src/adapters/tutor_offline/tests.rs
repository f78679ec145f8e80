//! Tests of the offline tutor: the fixtures, and what holds for every action's answer (its
//! stream, its markers, its determinism); teach and ask mode answers have files of their own.

mod ask;
mod properties;
mod teach;
mod text_tests;

use futures::StreamExt;

use super::{OfflineTutor, compose::compose};
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
