//! Thread titles and the auto-start trigger.

/// The auto-start trigger: the panel opens a thread by sending a message made of this character.
pub const AUTO_START: char = '\u{200B}';

/// Most words a title derived from a message keeps.
const TITLE_WORDS: usize = 6;
/// Most characters a title derived from a message keeps.
const TITLE_MAX_CHARS: usize = 120;

/// Whether `text` is the auto-start trigger: at least one U+200B and nothing else but whitespace.
pub fn is_auto_start(text: &str) -> bool {
    text.contains(AUTO_START) && text.chars().all(|c| c == AUTO_START || c.is_whitespace())
}

/// A thread title from the student's first real message: its first six words, at most 120
/// characters. `None` when the message has no visible word (empty, whitespace, only U+200B).
pub fn title_from_message(text: &str) -> Option<String> {
    // U+200B is not whitespace for `split_whitespace`, so it is removed first rather than
    // being glued to a word and counted as visible.
    let cleaned: String = text.chars().filter(|&c| c != AUTO_START).collect();
    let words: Vec<&str> = cleaned.split_whitespace().take(TITLE_WORDS).collect();
    if words.is_empty() {
        return None;
    }
    let title: String = words.join(" ").chars().take(TITLE_MAX_CHARS).collect();
    Some(title)
}

/// The title of a thread opened by auto-start on a lesson.
pub fn lesson_thread_title(lesson_title: &str) -> String {
    format!("📚 {lesson_title}")
}

#[cfg(test)]
mod tests;
