//! Passages of the book found for a question: what `GET /v1/book/search` lists and what
//! grounds an ask-mode answer. The pure parts of the search: a question's words, the snippet
//! of a passage, and the fusion of a full-text ranking with a vector ranking.

mod snippet;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::Hash;

use super::lesson::LessonPath;
pub use snippet::{MAX_SNIPPET_CHARS, plain_text, snippet};

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

/// Longest query considered, in characters (the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of a query considered (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 16;
/// Longest word considered, in characters (a longer one is cut).
pub const MAX_WORD_CHARS: usize = 40;
/// The `k` of reciprocal rank fusion: how fast a lower rank stops counting.
pub const RRF_K: f64 = 60.0;

/// Words too common to tell passages apart; dropped from a question.
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "just", "me", "more", "most", "my", "no", "not", "of", "on",
    "or", "our", "out", "over", "please", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too",
    "under", "up", "us", "very", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// Whether `word` (lowercase) is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of a question that a search looks for: its first [`MAX_QUERY_CHARS`] characters
/// split at anything that is not a letter or a digit, lowercased, each cut to
/// [`MAX_WORD_CHARS`], stop words and repeats dropped, at most [`MAX_QUERY_WORDS`] of them.
/// Only letters and digits remain, so no query syntax of any backend survives.
pub fn query_words(raw: &str) -> Vec<String> {
    let bounded: String = raw.chars().take(MAX_QUERY_CHARS).collect();
    let mut words: Vec<String> = Vec::new();
    for word in bounded.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word: String = word.to_lowercase().chars().take(MAX_WORD_CHARS).collect();
        if is_stop_word(&word) || words.contains(&word) {
            continue;
        }
        words.push(word);
        if words.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    words
}

/// The form two words are compared in: lowercase, a plural or third-person `s`/`es` dropped
/// (`loops` → `loop`, `classes` → `class`, `libraries` → `library`). Crude on purpose: it
/// only decides which words of a passage a snippet highlights.
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    let n = lower.chars().count();
    if n > 4 && (lower.ends_with("sses") || lower.ends_with("xes") || lower.ends_with("ches")) {
        return lower[..lower.len() - 2].to_owned();
    }
    if n > 3 && lower.ends_with("ies") {
        return format!("{}y", &lower[..lower.len() - 3]);
    }
    if n > 3 && lower.ends_with('s') && !lower.ends_with("ss") && !lower.ends_with("us") {
        return lower[..lower.len() - 1].to_owned();
    }
    lower
}

/// Cosine similarity of two vectors; `None` when their lengths differ or either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 || !dot.is_finite() {
        return None;
    }
    Some(dot / (na.sqrt() * nb.sqrt()))
}

/// Reciprocal rank fusion of rankings (each best first): an item scores `Σ 1 / (k + rank)`
/// over the rankings it appears in (rank from 1). Best first; ties keep the order in which
/// the items first appear, ranking by ranking.
pub fn reciprocal_rank_fusion<K: Eq + Hash + Clone>(rankings: &[&[K]], k: f64) -> Vec<(K, f64)> {
    let mut order: Vec<K> = Vec::new();
    let mut scores: HashMap<K, f64> = HashMap::new();
    for ranking in rankings {
        for (i, item) in ranking.iter().enumerate() {
            let rank = f64::from(u32::try_from(i).unwrap_or(u32::MAX)) + 1.0;
            let score = scores.entry(item.clone()).or_insert_with(|| {
                order.push(item.clone());
                0.0
            });
            *score += 1.0 / (k + rank);
        }
    }
    let mut fused: Vec<(K, f64)> = order
        .into_iter()
        .map(|item| {
            let score = scores.get(&item).copied().unwrap_or_default();
            (item, score)
        })
        .collect();
    // Stable: equal scores keep first-appearance order.
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}
