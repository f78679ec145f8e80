//! What the tutor model is asked and what it streams back.

use serde::{Deserialize, Serialize};

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

/// A complete prompt: instructions plus history plus the new message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Prompt {
    /// Messages in order.
    pub messages: Vec<PromptMessage>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
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
