//! The correct-option marker: how the model tells the server which option of its question is
//! right, and the streaming filter that removes it before anything reaches a client or the store.
//!
//! The marker is `[[CORRECT:A]]` or `[[CORRECT:B]]` (case-insensitive, spaces allowed inside the
//! brackets). It never leaves the server.

use super::teach::Choice;

/// The marker text for `choice`, as the model is instructed to write it.
pub fn render(choice: Choice) -> String {
    match choice {
        Choice::A => "[[CORRECT:A]]".to_string(),
        Choice::B => "[[CORRECT:B]]".to_string(),
    }
}
