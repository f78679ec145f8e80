//! Ask mode grounded in the book: which passages go into the prompt (the open lesson's first),
//! numbered as sources under a character budget, and how the answer's `[n]` citations become
//! [`Citation`]s (see [`cite`]).

mod cite;

pub use cite::CitationFilter;

use super::lesson::LessonPath;
use super::search::{Passage, is_stop_word, stem};
use super::thread::Citation;
use super::tutor::SourcePassage;

/// Most sources one prompt carries.
pub const MAX_SOURCES: usize = 6;
/// Most sections of the open lesson among them.
pub const MAX_LESSON_SOURCES: usize = 3;
/// Fewest characters worth giving a source; a budget left smaller than this ends the list.
const MIN_SOURCE_CHARS: usize = 200;
/// Longest query words considered when ranking the open lesson's sections.
const MAX_TERMS: usize = 24;

/// Words of a request to the tutor that say nothing about its subject ("explain what … means"),
/// dropped beside the search's own stop words.
const ASKING_WORDS: &[&str] = &["explain", "mean", "means", "say", "says", "tell"];

/// The meaningful words of `text`, lowercase, without stop words (the book search's, see
/// [`is_stop_word`], and [`ASKING_WORDS`]) and duplicates, stemmed as the search stems them (so
/// `agents` matches `agent`), at most [`MAX_TERMS`].
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.chars().count() < 2 {
            continue;
        }
        let lower = word.to_lowercase();
        if is_stop_word(&lower) || ASKING_WORDS.contains(&lower.as_str()) {
            continue;
        }
        let stem = stem(&lower);
        if !out.contains(&stem) {
            out.push(stem);
            if out.len() == MAX_TERMS {
                break;
            }
        }
    }
    out
}

/// How well a section (`title`, `text`) matches `query_terms`: the share of the terms it
/// contains, a title match counting half again; 0 when it contains none.
pub fn section_score(query_terms: &[String], title: &str, text: &str) -> f64 {
    if query_terms.is_empty() {
        return 0.0;
    }
    let body = terms_set(text);
    let head = terms_set(title);
    let mut score = 0.0;
    for term in query_terms {
        if body.contains(term) {
            score += 1.0;
        }
        if head.contains(term) {
            score += 0.5;
        }
    }
    #[allow(clippy::cast_precision_loss)] // at most MAX_TERMS terms
    let count = query_terms.len() as f64;
    score / count
}

fn terms_set(text: &str) -> std::collections::HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(stem)
        .collect()
}

/// A section of the open lesson, as the lesson was just loaded (fresher than the index).
#[derive(Debug, Clone, Copy)]
pub struct LessonSection<'a> {
    /// Position in the lesson.
    pub index: u32,
    /// Heading.
    pub title: &'a str,
    /// Text.
    pub text: &'a str,
}

/// The sources of an ask prompt: the open lesson's sections that match `query` (best first, at
/// most [`MAX_LESSON_SOURCES`]), then the passages of other lessons found in the book (in their
/// order, the open lesson's own skipped), at most [`MAX_SOURCES`] in all, their texts cut so
/// that together they fit `budget_chars`. Numbered from 1 in that order.
pub fn select_sources(
    query: &str,
    lesson_path: &LessonPath,
    lesson_title: &str,
    sections: &[LessonSection<'_>],
    book: &[Passage],
    budget_chars: usize,
) -> Vec<SourcePassage> {
    let wanted = terms(query);
    let mut local: Vec<(f64, &LessonSection<'_>)> = sections
        .iter()
        .map(|s| (section_score(&wanted, s.title, s.text), s))
        .filter(|(score, _)| *score > 0.0)
        .collect();
    // Best first; the earlier section on ties.
    local.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.index.cmp(&b.1.index)));
    let local = local
        .into_iter()
        .take(MAX_LESSON_SOURCES)
        .map(|(_, s)| (lesson_path.as_str(), lesson_title, s.index, s.title, s.text));
    let others = book.iter().filter(|p| p.path != *lesson_path).map(|p| {
        (
            p.path.as_str(),
            p.lesson_title.as_str(),
            p.section_index,
            p.section_title.as_str(),
            p.text.as_str(),
        )
    });
    let mut out: Vec<SourcePassage> = Vec::new();
    let mut left = budget_chars;
    // The open lesson's sections take at most half the budget, so other lessons get a say.
    let mut lesson_left = budget_chars / 2;
    // No single source takes more than a third of the budget while others wait.
    let cap = (budget_chars / 3).max(MIN_SOURCE_CHARS);
    for (path, lesson, index, title, text) in local.chain(others) {
        let is_open = path == lesson_path.as_str();
        let room = if is_open { left.min(lesson_left) } else { left };
        if out.len() == MAX_SOURCES || left < MIN_SOURCE_CHARS {
            break;
        }
        if room < MIN_SOURCE_CHARS
            || out
                .iter()
                .any(|s| s.path == path && s.section_index == index)
        {
            continue;
        }
        let text = focus(text.trim(), &wanted, room.min(cap));
        let used = text.chars().count();
        left = left.saturating_sub(used);
        if is_open {
            lesson_left = lesson_left.saturating_sub(used);
        }
        out.push(SourcePassage {
            number: u32::try_from(out.len() + 1).unwrap_or(u32::MAX),
            path: path.to_string(),
            lesson_title: lesson.to_string(),
            section_index: index,
            section_title: title.to_string(),
            text,
        });
    }
    out
}

/// At most `max` characters of `text`: all of it when it fits, else the run of whole sentences
/// around the sentence that holds the most of `wanted` (so a long section keeps the part that
/// answers), with `…` where text was left out.
fn focus(text: &str, wanted: &[String], max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let sentences = split_sentences(text);
    let best = sentences
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| {
            section_score(wanted, "", a)
                .total_cmp(&section_score(wanted, "", b))
                .then(j.cmp(i))
        })
        .map_or(0, |(i, _)| i);
    let len = |s: &str| s.chars().count() + 1;
    let (mut first, mut last) = (best, best);
    let mut used = len(sentences[best]);
    if used > max {
        return cut(sentences[best], max);
    }
    loop {
        let after = sentences.get(last + 1).map(|s| len(s));
        let before = first.checked_sub(1).map(|i| len(sentences[i]));
        // After the best sentence first: it usually explains it.
        match (after, before) {
            (Some(n), _) if used + n <= max => {
                last += 1;
                used += n;
            }
            (_, Some(n)) if used + n <= max => {
                first -= 1;
                used += n;
            }
            _ => break,
        }
    }
    let mut out = String::new();
    if first > 0 {
        out.push_str("… ");
    }
    out.push_str(&sentences[first..=last].join(" "));
    if last + 1 < sentences.len() {
        out.push_str(" …");
    }
    out
}

/// `text` split after `.`, `!` or `?` followed by whitespace, and at blank lines; trimmed
/// pieces, none empty.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        let ends =
            (matches!(prev, '.' | '!' | '?') && c.is_whitespace()) || (prev == '\n' && c == '\n');
        if ends {
            let piece = text[start..i].trim();
            if !piece.is_empty() {
                out.push(piece);
            }
            start = i;
        }
        prev = c;
    }
    let piece = text[start..].trim();
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// `text` cut to at most `max` characters at a word boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if space > 0 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

/// The citations of an answer: one per distinct source it cites with `[n]` (at the offset of
/// the first citation, in characters of the final text), in the order they were first cited.
/// Numbers that name no source were left in the text by the filter and are not here.
pub fn citations(
    sources: &[SourcePassage],
    cited: &[(u32, usize)],
    text_chars: usize,
) -> Vec<Citation> {
    let mut out: Vec<Citation> = Vec::new();
    for (number, at) in cited {
        let Some(source) = sources.iter().find(|s| s.number == *number) else {
            continue;
        };
        if out
            .iter()
            .any(|c| c.path == source.path && c.section_index == source.section_index)
        {
            continue;
        }
        out.push(Citation {
            path: source.path.clone(),
            lesson_title: source.lesson_title.clone(),
            section_index: source.section_index,
            section_title: source.section_title.clone(),
            index: u32::try_from((*at).min(text_chars)).ok(),
        });
    }
    out
}

#[cfg(test)]
mod tests;
