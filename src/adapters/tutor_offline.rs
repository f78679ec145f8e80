//! Outbound adapter: TutorModel that needs no network; it teaches from the lesson text itself.
//!
//! It reads only the structured [`TutorContext`] of a prompt (never its messages) and writes a
//! deterministic answer: excerpts of the chunk, an A/B question whose correct option is a
//! sentence of the chunk, and the correct-option marker, just as a language model is told to.
//! That keeps the whole service usable, and testable end to end, without a model provider.

mod compose;
mod flip;
mod question;
mod text;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::ports::{TutorError, TutorModel, TutorStream};
use crate::domain::tutor::{Prompt, TutorChunk};

/// [`TutorModel`] that composes its answers locally from the lesson.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineTutor;

impl OfflineTutor {
    /// The offline tutor; it holds no state.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl TutorModel for OfflineTutor {
    async fn stream(&self, prompt: Prompt) -> Result<TutorStream, TutorError> {
        let answer = compose::compose(&prompt.context);
        let chunks = pieces(&answer)
            .into_iter()
            .map(|piece| Ok(TutorChunk::Delta(piece)))
            .chain([Ok(TutorChunk::Done {
                input_tokens: 0,
                output_tokens: 0,
            })]);
        Ok(futures::stream::iter(chunks).boxed())
    }
}

/// `text` in word-sized pieces, each word with the whitespace after it, so that the pieces
/// stream like a model's deltas and concatenate back to `text` exactly.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut after_space = false;
    for c in text.chars() {
        if after_space && !c.is_whitespace() {
            out.push(std::mem::take(&mut current));
        }
        after_space = c.is_whitespace();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
