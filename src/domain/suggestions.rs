//! Starter prompts for the tutor panel's empty state, derived from a lesson's chunks.

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::lesson::ParsedLesson;

/// Most suggestions ever offered; the panel shows them as one row of buttons.
pub const MAX_SUGGESTIONS: usize = 4;

/// Longest label, in characters; longer ones are cut at a word and end with `…`.
pub const MAX_LABEL_CHARS: usize = 60;

/// One starter prompt: a short button label and the message it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Button text, at most [`MAX_LABEL_CHARS`] characters, unique within a list.
    pub label: String,
    /// Message sent to the tutor when the button is pressed.
    pub prompt: String,
}

/// Up to `max` (never more than [`MAX_SUGGESTIONS`]) starter prompts for `lesson`: teach the
/// lesson, explain one section, quiz on another, summarise the lesson, in that order.
pub fn suggestions(lesson: &ParsedLesson, max: usize) -> Vec<Suggestion> {
    let max = max.min(MAX_SUGGESTIONS);
    let lesson_title = clean_title(&lesson.title);
    let sections = section_titles(lesson, &lesson_title);
    let mut candidates = vec![Suggestion {
        label: "Teach me this lesson".into(),
        prompt: format!("Teach me \"{lesson_title}\" step by step."),
    }];
    if let Some(first) = sections.first() {
        candidates.push(Suggestion {
            label: label(&format!("Explain {first}")),
            prompt: format!("Explain \"{first}\" from this lesson in simple terms."),
        });
    }
    // Quizzing on a different section than the one explained makes the two buttons useful
    // together; a lesson with one section quizzes on that one.
    if let Some(quizzed) = sections.get(1).or(sections.first()) {
        candidates.push(Suggestion {
            label: label(&format!("Quiz me on {quizzed}")),
            prompt: format!("Ask me a question to check that I understand \"{quizzed}\"."),
        });
    }
    if !lesson.body.trim().is_empty() {
        candidates.push(Suggestion {
            label: label(&format!("Summarise {lesson_title}")),
            prompt: format!(
                "Summarise the key ideas of \"{lesson_title}\" in a few bullet points."
            ),
        });
    }
    let mut seen: Vec<String> = Vec::new();
    candidates
        .into_iter()
        .filter(|s| {
            let key = s.label.to_lowercase();
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        })
        .take(max)
        .collect()
}

/// Distinct section titles in lesson order, without the introduction (titled like the lesson)
/// and without the `(part n)` continuations of long sections.
fn section_titles(lesson: &ParsedLesson, lesson_title: &str) -> Vec<String> {
    let mut titles: Vec<String> = Vec::new();
    for chunk in &lesson.chunks {
        let title = clean_title(strip_part_suffix(&chunk.title));
        if title.is_empty() || title.eq_ignore_ascii_case(lesson_title) {
            continue;
        }
        if !titles.iter().any(|t| t.eq_ignore_ascii_case(&title)) {
            titles.push(title);
        }
    }
    titles
}

/// `Title (part 2)` → `Title`.
fn strip_part_suffix(title: &str) -> &str {
    let trimmed = title.trim_end();
    if let Some(open) = trimmed.rfind(" (part ")
        && let Some(number) = trimmed[open + " (part ".len()..].strip_suffix(')')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
    {
        return &trimmed[..open];
    }
    trimmed
}

/// Collapses whitespace and drops inline emphasis and code marks, which show literally on a
/// button.
fn clean_title(title: &str) -> String {
    title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !matches!(c, '*' | '`'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// `text` cut to [`MAX_LABEL_CHARS`] characters, at a word boundary when there is one.
fn label(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_LABEL_CHARS - 1).collect();
    let cut = match kept.rfind(' ') {
        Some(space) if space > 0 => &kept[..space],
        _ => kept.as_str(),
    };
    format!("{}…", cut.trim_end())
}
