//! Unit tests of the starter prompts derived from lessons.

use super::*;
use crate::domain::lesson::{LessonChunk, LessonPath, parse_lesson};

fn lesson(title: &str, chunk_titles: &[&str]) -> ParsedLesson {
    ParsedLesson {
        path: LessonPath::new_unchecked("01-Part/02-Chapter/03-lesson"),
        title: title.into(),
        body: "Some text.".into(),
        chunks: chunk_titles
            .iter()
            .enumerate()
            .map(|(i, t)| LessonChunk {
                index: u32::try_from(i).unwrap(),
                title: (*t).into(),
                text: format!("## {t}\n\ntext"),
            })
            .collect(),
    }
}

fn labels(list: &[Suggestion]) -> Vec<&str> {
    list.iter().map(|s| s.label.as_str()).collect()
}

#[test]
fn suggestions_teach_explain_quiz_and_summarise_in_that_order() {
    let l = lesson("Agents", &["Agents", "The Loop", "Tools"]);

    let list = suggestions(&l, 4);

    assert_eq!(
        labels(&list),
        [
            "Teach me this lesson",
            "Explain The Loop",
            "Quiz me on Tools",
            "Summarise Agents"
        ]
    );
    assert!(list[1].prompt.contains("The Loop"));
    assert!(list[2].prompt.contains("Tools"));
    assert!(list[3].prompt.contains("Agents"));
}

#[test]
fn suggestions_never_exceed_four_even_when_more_are_asked_for() {
    let l = lesson("Agents", &["A", "B", "C", "D", "E", "F"]);

    assert_eq!(suggestions(&l, 10).len(), MAX_SUGGESTIONS);
    assert_eq!(suggestions(&l, 2).len(), 2);
    assert!(suggestions(&l, 0).is_empty());
}

#[test]
fn suggestions_quiz_on_the_only_section_when_there_is_one() {
    let l = lesson("Agents", &["Agents", "The Loop"]);

    let list = suggestions(&l, 4);

    assert_eq!(
        labels(&list),
        [
            "Teach me this lesson",
            "Explain The Loop",
            "Quiz me on The Loop",
            "Summarise Agents"
        ]
    );
}

#[test]
fn suggestions_skip_the_introduction_and_part_continuations() {
    let l = lesson("Agents", &["Agents", "Loop", "Loop (part 2)", "Memory"]);

    let list = suggestions(&l, 4);

    assert_eq!(list[1].label, "Explain Loop");
    assert_eq!(list[2].label, "Quiz me on Memory");
}

#[test]
fn suggestions_of_a_lesson_without_sections_offer_teach_and_summarise() {
    let l = lesson("Agents", &["Agents"]);

    assert_eq!(
        labels(&suggestions(&l, 4)),
        ["Teach me this lesson", "Summarise Agents"]
    );
}

#[test]
fn suggestions_of_an_empty_lesson_only_offer_to_teach() {
    let l = ParsedLesson {
        body: String::new(),
        ..lesson("Empty", &[])
    };

    assert_eq!(labels(&suggestions(&l, 4)), ["Teach me this lesson"]);
}

#[test]
fn suggestion_labels_are_cut_at_a_word_to_sixty_characters() {
    let long = "An extraordinarily long section heading that keeps going well past sixty";
    let l = lesson("Agents", &[long]);

    let list = suggestions(&l, 4);

    let explain = &list[1];
    assert!(explain.label.chars().count() <= MAX_LABEL_CHARS);
    assert!(explain.label.ends_with('…'));
    assert!(!explain.label.contains("  "));
    assert!(
        explain.prompt.contains(long),
        "the prompt keeps the full title"
    );
}

#[test]
fn suggestion_labels_drop_emphasis_and_code_marks() {
    let l = lesson("The `agent` **loop**", &["Using `tools`"]);

    let list = suggestions(&l, 4);

    assert_eq!(list[1].label, "Explain Using tools");
    assert_eq!(list[3].label, "Summarise The agent loop");
}

#[test]
fn suggestions_from_real_markdown_have_unique_labels() {
    let path = LessonPath::new_unchecked("01-Part/01-Chapter/01-lesson");
    let filler = "word ".repeat(60);
    let md = format!(
        "---\ntitle: What Is an Agent?\n---\n\nIntro {filler}\n\n## Perception\n\n{filler}\n\n## Action\n\n{filler}\n"
    );
    let l = parse_lesson(&path, &md);

    let list = suggestions(&l, 4);

    let mut seen = labels(&list);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), list.len());
    assert_eq!(list[0].label, "Teach me this lesson");
    assert!(
        list.iter()
            .all(|s| s.label.chars().count() <= MAX_LABEL_CHARS)
    );
}
