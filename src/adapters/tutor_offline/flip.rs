//! Meaning flips: a plausible wrong statement made from a true one, for questions whose lesson
//! has no other chunk to borrow a wrong option from.

use super::text::split_word;

/// Negations that are removed or undone to flip a sentence.
const UNDO_NEGATION: &[(&str, &str)] = &[
    ("cannot", "can"),
    ("can't", "can"),
    ("don't", "do"),
    ("doesn't", "does"),
    ("isn't", "is"),
    ("aren't", "are"),
    ("won't", "will"),
    ("never", "always"),
    ("always", "never"),
];

/// Auxiliary verbs after which a `not` flips the meaning.
const AUXILIARIES: &[(&str, &str)] = &[
    ("is", "is not"),
    ("are", "are not"),
    ("was", "was not"),
    ("were", "were not"),
    ("can", "cannot"),
    ("will", "will not"),
    ("should", "should not"),
    ("must", "must not"),
    ("may", "may not"),
    ("could", "could not"),
    ("would", "would not"),
    ("does", "does not"),
    ("do", "do not"),
];

/// Word pairs of opposite meaning, swapped in either direction.
const ANTONYMS: &[(&str, &str)] = &[
    ("more", "less"),
    ("increase", "decrease"),
    ("increases", "decreases"),
    ("before", "after"),
    ("first", "last"),
    ("true", "false"),
    ("easier", "harder"),
    ("faster", "slower"),
    ("larger", "smaller"),
    ("better", "worse"),
    ("most", "least"),
    ("same", "different"),
    ("inside", "outside"),
    ("with", "without"),
    ("short", "long"),
    ("small", "large"),
    ("high", "low"),
    ("early", "late"),
    ("simple", "complex"),
    ("many", "few"),
    ("often", "rarely"),
    ("required", "optional"),
    ("public", "private"),
    ("local", "remote"),
    ("input", "output"),
    ("start", "end"),
    ("starts", "ends"),
];

/// A statement meaning the opposite of `sentence`; always differs from it.
pub(super) fn flip(sentence: &str) -> String {
    let tokens: Vec<&str> = sentence.split(' ').collect();
    if let Some(i) = tokens.iter().position(|t| lower_core(t) == "not") {
        let mut kept = tokens.clone();
        kept.remove(i);
        if !kept.is_empty() {
            return kept.join(" ");
        }
    }
    // Tried in order: the first table with a match anywhere in the sentence decides.
    for (table, both_ways) in [
        (UNDO_NEGATION, false),
        (AUXILIARIES, false),
        (ANTONYMS, true),
    ] {
        for (i, token) in tokens.iter().enumerate() {
            let (prefix, core, suffix) = split_word(token);
            if let Some(replacement) = lookup(table, &core.to_lowercase(), both_ways) {
                let mut flipped: Vec<String> = tokens.iter().map(|t| (*t).to_string()).collect();
                flipped[i] = format!("{prefix}{}{suffix}", same_case(core, replacement));
                return flipped.join(" ");
            }
        }
    }
    let mut chars = sentence.chars();
    let rest = match chars.next() {
        // Lower-case the first letter unless the first word looks like a name or acronym.
        Some(first) if chars.clone().next().is_some_and(char::is_lowercase) => {
            format!("{}{}", first.to_lowercase(), chars.as_str())
        }
        _ => sentence.to_string(),
    };
    format!("It is not true that {rest}")
}

fn lower_core(token: &str) -> String {
    split_word(token).1.to_lowercase()
}

/// The partner of `word` in `table` (looked up from either side when `both_ways`).
fn lookup(
    table: &[(&'static str, &'static str)],
    word: &str,
    both_ways: bool,
) -> Option<&'static str> {
    if let Some((_, to)) = table.iter().find(|(from, _)| *from == word) {
        return Some(to);
    }
    if !both_ways {
        return None;
    }
    table
        .iter()
        .find(|(_, to)| *to == word)
        .map(|(from, _)| *from)
}

/// `replacement` capitalised like `original`.
fn same_case(original: &str, replacement: &str) -> String {
    let capital = original.chars().next().is_some_and(char::is_uppercase);
    let mut chars = replacement.chars();
    match chars.next() {
        Some(first) if capital => first.to_uppercase().chain(chars).collect(),
        _ => replacement.to_string(),
    }
}
