//! Reading the option a marker names, leniently: models write `:A`, `: Option A`,
//! `_OPTION=b`, `answer: B) …` when asked for `:A`, and each of those still names one option.

use crate::domain::teach::Choice;

/// Words that may stand between `correct` and the option letter without changing its meaning.
const FILLERS: &[&str] = &["option", "answer", "is", "the", "choice", "letter"];

/// The option named by `body`, the text of a marker after the word `correct` (without the
/// closing bracket). `None` unless exactly one option is named: the first word that is not a
/// filler must be `a` or `b`, and it must either be the only such word or be followed by `)`
/// (`B) Tools let an agent act`). Case-insensitive, never panics.
pub fn read_choice(body: &str) -> Option<Choice> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
            if !chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                words.push((std::mem::take(&mut current), chars.peek().copied()));
            }
        }
    }
    let mut meaningful = words
        .into_iter()
        .filter(|(word, _)| !FILLERS.contains(&word.as_str()));
    let (first, next) = meaningful.next()?;
    let choice = match first.as_str() {
        "a" => Choice::A,
        "b" => Choice::B,
        _ => return None,
    };
    let alone = meaningful.next().is_none();
    (alone || next == Some(')')).then_some(choice)
}
