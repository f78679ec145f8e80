//! Passages of the book found for a question: what `GET /v1/book/search` lists and what
//! grounds an ask-mode answer.

use super::lesson::LessonPath;

/// One ranked passage: a section of a lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// Lesson the passage belongs to.
    pub path: LessonPath,
    /// Title of that lesson.
    pub lesson_title: String,
    /// Position of the section in the lesson (0-based).
    pub section_index: u32,
    /// Heading of the section.
    pub section_title: String,
    /// The section's text, as indexed.
    pub text: String,
    /// A short excerpt around the matches: plain text, HTML-escaped, each match wrapped in
    /// `<mark>`…`</mark>`.
    pub snippet: String,
    /// Relevance; higher is better, comparable within one result list only.
    pub score: f64,
}
