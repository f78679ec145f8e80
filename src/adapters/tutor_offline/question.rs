//! The section being taught, its excerpts, and its A/B questions: the correct option is a
//! sentence of the section, the wrong one comes from another chunk or is the same sentence with
//! its meaning flipped.

use std::ops::Range;

use super::flip::flip;
use super::text::{self, EXCERPT_CHARS};
use crate::domain::teach::Choice;
use crate::domain::tutor::TutorContext;

/// Longest option text, so a question stays readable.
const OPTION_CHARS: usize = 240;
/// Fewest words of a sentence that makes a useful option.
const OPTION_MIN_WORDS: usize = 4;

/// One lesson chunk as the offline tutor sees it.
pub(super) struct Section {
    /// Heading of the chunk.
    pub(super) title: String,
    text: String,
    /// Position of the chunk in the lesson (0-based).
    pub(super) index: u32,
    sentences: Vec<String>,
    windows: Vec<Range<usize>>,
    /// Statements of another chunk, the source of wrong options.
    other: Vec<String>,
}

/// A two-choice question with its answer.
pub(super) struct Question {
    stem: &'static str,
    statement: String,
    distractor: String,
    /// The option that is right.
    pub(super) correct: Choice,
}

impl Section {
    /// Chunk number `index` of the lesson in `ctx`.
    pub(super) fn new(ctx: &TutorContext, index: u32) -> Self {
        let sentences = text::sentences(&ctx.chunk_text);
        let windows = text::windows(&sentences);
        let title = usize::try_from(index)
            .ok()
            .and_then(|i| ctx.chunk_titles.get(i))
            .map(|title| title.trim().replace("[[", "["))
            .filter(|title| !title.is_empty())
            .unwrap_or_else(|| format!("Section {}", u64::from(index) + 1));
        let other = ctx
            .other_text
            .as_deref()
            .map(text::sentences)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| is_statement(s))
            .collect();
        Self {
            title,
            text: ctx.chunk_text.clone(),
            index,
            sentences,
            windows,
            other,
        }
    }

    /// Whether the chunk has any readable text.
    pub(super) fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }

    /// Sentences of the chunk, for grounding replies.
    pub(super) fn sentences(&self) -> &[String] {
        &self.sentences
    }

    /// The sentences shown for `variant`: the opening ones first, later ones when re-explaining
    /// (back to the opening when the chunk is short).
    fn window(&self, variant: u32) -> Range<usize> {
        let count = self.windows.len();
        let pick = match usize::try_from(variant) {
            Ok(0) | Err(_) => 0,
            _ if count <= 1 => 0,
            Ok(v) => 1 + (v - 1) % (count - 1),
        };
        self.windows.get(pick).cloned().unwrap_or(0..0)
    }

    /// Text of the chunk to show for `variant`: prose from the matching window, or the key
    /// points as a list when re-explaining a chunk too short for a second window.
    pub(super) fn excerpt(&self, variant: u32) -> String {
        let shown = &self.sentences[self.window(variant)];
        if variant > 0 && self.windows.len() <= 1 && !shown.is_empty() {
            let points: Vec<String> = shown
                .iter()
                .map(|s| format!("- {}", text::truncate_words(s, OPTION_CHARS)))
                .collect();
            return format!("Here are the key points again:\n\n{}", points.join("\n"));
        }
        text::truncate_words(&shown.join(" "), EXCERPT_CHARS)
    }

    fn seed(&self, variant: u32) -> u64 {
        text::stable_hash(&[
            self.text.as_bytes(),
            &self.index.to_le_bytes(),
            &variant.to_le_bytes(),
        ])
    }

    /// The true statement the question of `variant` is built on.
    fn statement(&self, variant: u32) -> String {
        let window = &self.sentences[self.window(variant)];
        let mut candidates: Vec<&String> = window.iter().filter(|s| is_statement(s)).collect();
        if candidates.is_empty() {
            candidates = self.sentences.iter().filter(|s| is_statement(s)).collect();
        }
        if candidates.is_empty() {
            candidates = self.sentences.iter().collect();
        }
        let first = (variant > 0).then(|| self.statement(0));
        let count = candidates.len();
        if count == 0 {
            return format!("This section is about {}.", self.title);
        }
        let mut pick = index(self.seed(variant), count);
        if count > 1 && first.as_ref() == Some(candidates[pick]) {
            pick = (pick + 1) % count;
        }
        text::truncate_words(candidates[pick], OPTION_CHARS)
    }

    /// The A/B question of `variant`; variant 0 is the chunk's first question, higher ones are
    /// asked when re-explaining and differ from it.
    pub(super) fn question(&self, variant: u32) -> Question {
        let seed = self.seed(variant);
        let statement = self.statement(variant);
        let repeats_first = variant > 0 && statement == self.statement(0);
        let others: Vec<&String> = self.other.iter().filter(|s| **s != statement).collect();
        // A repeated statement gets the other kind of wrong option, so the question is new.
        let use_other = !(others.is_empty() || (repeats_first && variant % 2 == 1));
        let distractor = if use_other {
            let offset = usize::try_from(variant).unwrap_or(0);
            let pick = (index(seed >> 8, others.len()) + offset) % others.len();
            text::truncate_words(others[pick], OPTION_CHARS)
        } else {
            flip(&statement)
        };
        Question {
            stem: if variant == 0 {
                "Which statement matches what this section says?"
            } else {
                "Which of these statements is true, according to what we just read?"
            },
            statement,
            distractor,
            correct: if (seed >> 40) & 1 == 0 {
                Choice::A
            } else {
                Choice::B
            },
        }
    }
}

impl Question {
    /// The question as markdown, options on their own lines (no marker).
    pub(super) fn render(&self) -> String {
        let (a, b) = match self.correct {
            Choice::A => (&self.statement, &self.distractor),
            Choice::B => (&self.distractor, &self.statement),
        };
        format!(
            "**Question:** {}\n\nA) {a}\nB) {b}\n\nReply with **A** or **B**.",
            self.stem
        )
    }

    /// A nudge towards the right option that names no letter.
    pub(super) fn hint(&self) -> String {
        let mut hint = String::from("💡 **Hint:** ");
        let ours = text::keywords(&self.statement);
        let theirs = text::keywords(&self.distractor);
        let clue = ours
            .iter()
            .filter(|w| !theirs.contains(w))
            .max_by_key(|w| w.chars().count());
        let changed = changed_word(&self.distractor, &self.statement);
        if let Some(word) = clue {
            hint.push_str(&format!(
                "look for the statement that talks about **{word}**."
            ));
        } else if let Some(word) = changed {
            hint.push_str(&format!(
                "watch the word **{word}** — only one option says exactly what the section says."
            ));
        } else {
            hint.push_str("only one option repeats what the section says.");
        }
        let opening: Vec<&str> = self.statement.split(' ').take(4).collect();
        let other_opening: Vec<&str> = self.distractor.split(' ').take(4).collect();
        if opening.len() == 4 && opening != other_opening {
            hint.push_str(&format!(" It starts with “{}…”.", opening.join(" ")));
        }
        hint.push_str("\n\nRead the section again, then reply with **A** or **B**.");
        hint
    }
}

/// Words whose presence alone turns a statement around.
const NEGATIONS: &[&str] = &["not", "never", "cannot", "no", "always"];

/// A word one sentence has and the other lacks: a negation when there is one, else the first
/// word of the `wrong` sentence that the right one lacks (or the other way round).
fn changed_word(wrong: &str, right: &str) -> Option<String> {
    let words = |s: &str| -> Vec<String> {
        s.split(' ')
            .map(|t| text::split_word(t).1.to_lowercase())
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (wrong, right) = (words(wrong), words(right));
    let only_wrong: Vec<&String> = wrong.iter().filter(|w| !right.contains(w)).collect();
    let only_right: Vec<&String> = right.iter().filter(|w| !wrong.contains(w)).collect();
    let both = || only_wrong.iter().chain(&only_right);
    both()
        .find(|w| NEGATIONS.contains(&w.as_str()))
        .or_else(|| both().next())
        .map(|w| (*w).clone())
}

fn is_statement(sentence: &str) -> bool {
    !sentence.ends_with('?')
        && !sentence.ends_with(':')
        && sentence.split(' ').count() >= OPTION_MIN_WORDS
        && sentence.chars().count() <= OPTION_CHARS
}

fn index(seed: u64, len: usize) -> usize {
    // `len` is a small count, so the remainder always fits back into `usize`.
    usize::try_from(seed % u64::try_from(len.max(1)).unwrap_or(1)).unwrap_or(0)
}
