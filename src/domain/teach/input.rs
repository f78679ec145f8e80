//! Reading a student's message in teach mode: an A/B answer, a hint or skip request, or other.
//!
//! The hard part is the article "a": `a closure is a function` must not read as option A. A
//! choice word counts only where a student would put an answer (alone, leading the message, or
//! after a cue such as "option" or "I think it's"), and a weak one (the letter A, a digit, an
//! ordinal) must also be followed by nothing, punctuation or a word that cannot follow an article.

use super::{Choice, StudentInput};
use crate::domain::title::AUTO_START;

/// Words that may follow an answer but never the article "a" ("A because…", "it's a, but…").
const CONTINUATIONS: &[&str] = &[
    "because",
    "since",
    "as",
    "cause",
    "cuz",
    "coz",
    "is",
    "but",
    "not",
    "so",
    "then",
    "please",
    "i",
    "obviously",
    "definitely",
    "probably",
    "maybe",
];

/// Words after which even a strong choice word is a mention, not an answer ("b or a?").
const ALTERNATIVES: &[&str] = &["or", "and", "vs", "versus", "nor"];

/// First words of a question about the options rather than an answer ("can you explain option
/// B?", "why is it a?"): such a message is never read as an answer.
const QUESTION_STARTS: &[&str] = &[
    "what", "what's", "whats", "why", "how", "can", "could", "would", "should", "explain", "does",
    "do", "which", "where", "when", "who", "tell", "is", "are",
];

/// Word sequences right before a choice word that mark it as the student's answer.
const CUES: &[&[&str]] = &[
    &["option"],
    &["options"],
    &["answer"],
    &["choice"],
    &["letter"],
    &["choose"],
    &["pick"],
    &["select"],
    &["go", "with"],
    &["going", "with"],
    &["goes", "with"],
    &["it's"],
    &["its"],
    &["it", "is"],
    &["answer", "is"],
    &["choice", "is"],
    &["think"],
    &["say"],
    &["guess"],
    &["definitely"],
    &["probably"],
    &["maybe"],
    &["hmm"],
    &["ok"],
    &["okay"],
    &["well"],
];

/// Phrases (normalised: lowercase, no punctuation, single spaces) that ask for a hint.
const HINT_PHRASES: &[&str] = &[
    "hint",
    "a hint",
    "hint please",
    "a hint please",
    "give me a hint",
    "can i have a hint",
    "can i get a hint",
    "can you give me a hint",
    "i need a hint",
    "another hint",
    "help",
    "help me",
    "i need help",
    "i'm stuck",
    "im stuck",
    "i am stuck",
    "stuck",
];

/// Phrases (normalised like [`HINT_PHRASES`]) that ask to skip the question.
const SKIP_PHRASES: &[&str] = &[
    "skip",
    "skip it",
    "skip this",
    "skip this one",
    "skip question",
    "skip the question",
    "skip this question",
    "next",
    "next one",
    "next question",
    "pass",
    "move on",
    "let's move on",
    "lets move on",
];

/// What comes right after a word, decorations (`*`, quotes, backticks) skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// The message ends.
    End,
    /// Another word (the next entry of the word list).
    Word,
    /// A punctuation character.
    Punct(char),
}

/// A word of the message, lowercased, with what follows it.
#[derive(Debug)]
struct Word {
    text: String,
    follow: Follow,
}

/// How a word names an option.
#[derive(Debug, Clone, Copy)]
struct ChoiceWord {
    choice: Choice,
    /// Strong words (the letter B) are never ordinary English; weak ones (A, 1, first) can be.
    strong: bool,
    /// Ordinals may be followed by "one" ("the first one") and be cued by "the".
    ordinal: bool,
}

/// Reads a student's answer to an A/B question; `None` when the message does not clearly pick
/// exactly one option. Case-insensitive, Unicode-safe, never panics.
pub fn parse_answer(text: &str) -> Option<Choice> {
    let words = split_words(text);
    if words.len() > 1 && QUESTION_STARTS.contains(&words[0].text.as_str()) {
        return None;
    }
    let mut found: Option<Choice> = None;
    for (i, word) in words.iter().enumerate() {
        let Some(cw) = choice_word(&words, i) else {
            continue;
        };
        let counts = if words.len() == 1 {
            true
        } else if i == 0 {
            leads_message(word, cw, &words)
        } else {
            cued(&words, i, cw) && follows_like_an_answer(word, cw, &words, i)
        };
        if !counts {
            continue;
        }
        // A message that opens with its answer is decided by it ("A - because option B is…").
        if i == 0 {
            return Some(cw.choice);
        }
        match found {
            Some(seen) if seen != cw.choice => return None,
            _ => found = Some(cw.choice),
        }
    }
    found
}

/// Reads a teach-mode message: the auto-start trigger, a hint or skip request, an answer to the
/// pending question, or anything else.
pub fn classify_input(text: &str, question_pending: bool) -> StudentInput {
    if text.chars().all(|c| c == AUTO_START || c.is_whitespace()) {
        return StudentInput::Start;
    }
    let phrase = normalise_phrase(text);
    if HINT_PHRASES.contains(&phrase.as_str()) {
        return StudentInput::Hint;
    }
    if SKIP_PHRASES.contains(&phrase.as_str()) {
        return StudentInput::Skip;
    }
    if question_pending && let Some(choice) = parse_answer(text) {
        return StudentInput::Answer(choice);
    }
    StudentInput::Other(text.to_string())
}

/// Lowercase words joined by single spaces, punctuation dropped, "please" at either end ignored
/// ("Hint?", "  give me a HINT! ", "please skip").
fn normalise_phrase(text: &str) -> String {
    let lowered = text.to_lowercase().replace('’', "'");
    let cleaned: String = lowered
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.len() > 1 && words.first() == Some(&"please") {
        words.remove(0);
    }
    words.join(" ")
}

/// Whether a character decorates a word without meaning anything (markdown emphasis, quotes).
fn is_decoration(c: char) -> bool {
    matches!(c, '*' | '_' | '`' | '"' | '\'' | '“' | '”' | '‘' | '’')
}

/// Splits a message into lowercase words; an apostrophe inside a word is kept ("it's", "i'd").
fn split_words(text: &str) -> Vec<Word> {
    let lowered = text.to_lowercase().replace('’', "'");
    let chars: Vec<char> = lowered.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() {
            let c = chars[i];
            let inner_apostrophe =
                c == '\'' && i + 1 < chars.len() && chars[i + 1].is_alphanumeric() && i > start;
            if c.is_alphanumeric() || inner_apostrophe {
                i += 1;
            } else {
                break;
            }
        }
        let text: String = chars[start..i].iter().collect();
        let next = chars[i..]
            .iter()
            .copied()
            .find(|&c| !c.is_whitespace() && !is_decoration(c));
        let follow = match next {
            None => Follow::End,
            Some(c) if c.is_alphanumeric() => Follow::Word,
            Some(c) => Follow::Punct(c),
        };
        words.push(Word { text, follow });
    }
    words
}

/// The option word `words[i]` names, if any ("one"/"two" only right after "option").
fn choice_word(words: &[Word], i: usize) -> Option<ChoiceWord> {
    let word = |choice, strong, ordinal| {
        Some(ChoiceWord {
            choice,
            strong,
            ordinal,
        })
    };
    match words[i].text.as_str() {
        "a" => word(Choice::A, false, false),
        "b" => word(Choice::B, true, false),
        "1" | "first" | "1st" | "former" => word(Choice::A, false, true),
        "2" | "second" | "2nd" | "latter" => word(Choice::B, false, true),
        "one" | "two" if i > 0 && words[i - 1].text == "option" => {
            let choice = if words[i].text == "one" {
                Choice::A
            } else {
                Choice::B
            };
            word(choice, false, false)
        }
        _ => None,
    }
}

/// Whether a choice word that opens the message is the answer ("A)", "B. the second", "A -").
fn leads_message(word: &Word, cw: ChoiceWord, words: &[Word]) -> bool {
    match word.follow {
        Follow::End => true,
        Follow::Punct(c) => {
            matches!(c, ')' | '.' | ':' | '-' | '–' | '—')
                || (!cw.ordinal && matches!(c, ',' | '!'))
        }
        Follow::Word => {
            let next = words.get(1).map(|w| w.text.as_str()).unwrap_or_default();
            if cw.strong {
                !ALTERNATIVES.contains(&next)
            } else {
                is_continuation(next, cw)
            }
        }
    }
}

/// Whether the words right before `words[i]` form a cue ("option", "I'd go with", "it is").
fn cued(words: &[Word], i: usize, cw: ChoiceWord) -> bool {
    let before = &words[..i];
    if cw.ordinal && before.last().is_some_and(|w| w.text == "the") {
        return true;
    }
    CUES.iter().any(|cue| {
        cue.len() <= before.len()
            && before[before.len() - cue.len()..]
                .iter()
                .zip(cue.iter())
                .all(|(w, c)| w.text == *c)
    })
}

/// Whether a cued choice word is followed the way an answer is, not the way an article is.
fn follows_like_an_answer(word: &Word, cw: ChoiceWord, words: &[Word], i: usize) -> bool {
    let next = words
        .get(i + 1)
        .map(|w| w.text.as_str())
        .unwrap_or_default();
    match word.follow {
        Follow::End => true,
        Follow::Punct(c) => {
            cw.strong || matches!(c, ')' | '.' | ':' | '-' | '–' | '—' | ',' | '!' | '?' | ';')
        }
        Follow::Word if cw.strong => !ALTERNATIVES.contains(&next),
        Follow::Word => is_continuation(next, cw),
    }
}

/// Whether `next` may follow an answer word of this kind.
fn is_continuation(next: &str, cw: ChoiceWord) -> bool {
    CONTINUATIONS.contains(&next) || (cw.ordinal && matches!(next, "one" | "option"))
}

#[cfg(test)]
mod tests;
