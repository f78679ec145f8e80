//! What the tutor model is asked and what it streams back.

use serde::{Deserialize, Serialize};

use super::teach::{Choice, TeachAction, Verdict};

/// Who said a message in the model's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the service.
    System,
    /// The student.
    User,
    /// The tutor.
    Assistant,
}

/// One message of the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

/// Study mode chosen by the client (`inference_options.model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StudyMode {
    /// Socratic teaching, one chunk at a time (default, also for unknown values).
    #[default]
    Teach,
    /// Brief direct answers about the lesson.
    Ask,
}

impl StudyMode {
    /// Mode from the protocol's `model` field: `ask` selects ask mode, anything else teaches.
    pub fn from_model(model: Option<&str>) -> Self {
        match model.map(str::trim) {
            Some(m) if m.eq_ignore_ascii_case("ask") => StudyMode::Ask,
            _ => StudyMode::Teach,
        }
    }
}

/// Longest display name a student may give, in characters.
pub const MAX_STUDENT_NAME_CHARS: usize = 64;

/// Whether `name` (already trimmed) looks like a person's name: 1 to
/// [`MAX_STUDENT_NAME_CHARS`] characters, letters of any script (with combining accents),
/// spaces, apostrophes, hyphens and dots, and at least one letter. A display name comes from
/// the query string, so anything that could carry instructions or markup is refused.
pub fn is_student_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_STUDENT_NAME_CHARS).contains(&count)
        && name.chars().all(is_name_char)
        && name.chars().any(char::is_alphabetic)
}

/// A character a student's name may hold: a letter (any script), a combining mark of the
/// common combining blocks, a space, an apostrophe, a hyphen or a dot.
pub fn is_name_char(c: char) -> bool {
    c.is_alphabetic()
        || matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '.')
        || matches!(
            c,
            '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        )
}

/// The structured facts behind a prompt. A network model reads `Prompt::messages`; the offline
/// tutor builds its answer from these facts alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TutorContext {
    /// Mode of the turn.
    pub mode: StudyMode,
    /// Lesson title.
    pub lesson_title: String,
    /// Titles of every chunk, in order (for progress and the final summary).
    pub chunk_titles: Vec<String>,
    /// Index of the chunk being taught.
    pub chunk_index: u32,
    /// Text of the chunk being taught (teach mode) or the lesson excerpt (ask mode).
    pub chunk_text: String,
    /// Text of another chunk, a source of plausible wrong options for offline questions.
    pub other_text: Option<String>,
    /// What the tutor must do this turn (teach mode).
    pub action: Option<TeachAction>,
    /// Verdict on the student's last answer, when there was one.
    pub verdict: Option<Verdict>,
    /// The student's message (ask mode question, or an off-script question in teach mode).
    pub student_message: String,
    /// Text the student highlighted (ask mode).
    pub selected_text: Option<String>,
    /// Display name, when known.
    pub student_name: Option<String>,
    /// Correct option of the open question, so a hint can point the right way. Goes to the
    /// model only, never to the student.
    #[serde(default)]
    pub pending_correct: Option<Choice>,
    /// Ask mode: the passages of the book the answer is grounded in, numbered from 1 (the
    /// model cites them as `[n]`); empty when nothing in the book matched.
    #[serde(default)]
    pub sources: Vec<SourcePassage>,
    /// Which question of the chunk this turn asks, repeats or hints at (0: the chunk's first;
    /// see [`crate::domain::teach::question_variant`]), so that a hint and a repeated question
    /// are the ones the student is looking at.
    #[serde(default)]
    pub question_variant: u32,
    /// The lesson to suggest once this one is complete (teach mode, `Complete` only), from the
    /// book's table of contents and links.
    #[serde(default)]
    pub next_lesson: Option<NextLesson>,
}

/// A lesson the tutor suggests studying next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextLesson {
    /// Its title.
    pub title: String,
    /// Its path in the book.
    pub path: String,
}

/// A passage of the book given to the tutor as a numbered source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SourcePassage {
    /// Number the answer cites it by (`[1]`), from 1.
    pub number: u32,
    /// Lesson path.
    pub path: String,
    /// Lesson title.
    pub lesson_title: String,
    /// Section position in the lesson (0-based).
    pub section_index: u32,
    /// Section heading.
    pub section_title: String,
    /// Text of the passage, cut to the prompt's budget.
    pub text: String,
}

/// A complete prompt: instructions plus history plus the new message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Prompt {
    /// Messages in order.
    pub messages: Vec<PromptMessage>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Structured facts (see [`TutorContext`]).
    pub context: TutorContext,
}

/// One piece of the model's streamed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TutorChunk {
    /// Text to append, whitespace preserved exactly.
    Delta(String),
    /// End of the answer with token usage, when the model reports it.
    Done {
        /// Prompt tokens.
        input_tokens: u32,
        /// Completion tokens.
        output_tokens: u32,
    },
}
