//! The snippet of a passage: a short window of its text, as plain text, around where the
//! question's words are densest, with those words marked.

use std::collections::HashSet;

use super::stem;

/// Longest snippet, in characters of text (the ellipses and `<mark>` tags not counted).
pub const MAX_SNIPPET_CHARS: usize = 240;
/// Most context kept before the first match of a window, in characters.
const MAX_LEAD_CHARS: usize = 60;
/// Longest inline HTML tag dropped from the text; a longer `<…>` is kept as text.
const MAX_TAG_CHARS: usize = 200;

/// `markdown` as plain text on one line: headings, quote and list markers, fences, emphasis,
/// inline code ticks, HTML tags and table pipes dropped; links and images reduced to their
/// text; runs of whitespace made one space.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let line = line.trim();
        if line.starts_with("```") || line.starts_with("~~~") || is_table_rule(line) {
            continue;
        }
        inline(block_content(line), &mut out);
        out.push(' ');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table's header rule, e.g. `|---|:--:|`.
fn is_table_rule(line: &str) -> bool {
    line.contains('-') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The line without its heading, quote or list markers.
fn block_content(line: &str) -> &str {
    let mut rest = line.trim_start();
    loop {
        let next = strip_marker(rest).trim_start();
        if next.len() == rest.len() {
            return rest;
        }
        rest = next;
    }
}

/// `line` without one leading heading, quote or list marker.
fn strip_marker(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('>') {
        return rest;
    }
    if line.starts_with('#') {
        let rest = line.trim_start_matches('#');
        return if rest.is_empty() || rest.starts_with(' ') {
            rest
        } else {
            line
        };
    }
    if let Some(rest) = ["- ", "* ", "+ "].iter().find_map(|m| line.strip_prefix(m)) {
        return rest;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let after = &line[digits..];
    if digits > 0 && (after.starts_with(". ") || after.starts_with(") ")) {
        return &after[1..];
    }
    line
}

/// Appends `line` without its inline markdown to `out`.
fn inline(line: &str, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    let is_word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    // Ranges `](url)` of links, dropped when reached.
    let mut skip_until: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(&(_, end)) = skip_until.iter().find(|(start, _)| *start == i) {
            i = end + 1;
            continue;
        }
        let c = chars[i];
        match c {
            '!' if chars.get(i + 1) == Some(&'[') => {}
            '[' => {
                if let Some(range) = link_tail(&chars, i) {
                    skip_until.push(range);
                } else {
                    out.push(c);
                }
            }
            '<' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!')) =>
            {
                match chars[i..]
                    .iter()
                    .take(MAX_TAG_CHARS)
                    .position(|&x| x == '>')
                {
                    Some(len) => {
                        i += len + 1;
                        out.push(' ');
                        continue;
                    }
                    None => out.push(c),
                }
            }
            '*' | '`' => {}
            '~' if chars.get(i + 1) == Some(&'~') => {
                i += 2;
                continue;
            }
            '_' if !is_word(i.checked_sub(1)) || !is_word(Some(i + 1)) => {}
            '|' => out.push(' '),
            '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {}
            _ => out.push(c),
        }
        i += 1;
    }
}

/// For a `[` at `open` that starts a link `[text](url)`: the range of `](url)`.
fn link_tail(chars: &[char], open: usize) -> Option<(usize, usize)> {
    let close = open + chars[open..].iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 1 + chars[close + 1..].iter().position(|&c| c == ')')?;
    Some((close, end))
}

/// A word of the text: its char range and, when it matches a query word, which one.
struct Token {
    start: usize,
    end: usize,
    term: Option<usize>,
}

/// The snippet of `markdown` for the query `words` (as [`super::query_words`] gives them): at
/// most [`MAX_SNIPPET_CHARS`] characters of its plain text, the window holding the most
/// distinct query words (then the most matches, then the earliest), cut at word boundaries
/// with `…` where text was left out; HTML-escaped; every whole word matching a query word
/// (case-insensitive, a plural `s` aside) wrapped in `<mark>`…`</mark>`. Without any match,
/// the text's beginning.
pub fn snippet(markdown: &str, words: &[String]) -> String {
    let text: Vec<char> = plain_text(markdown).chars().collect();
    let stems: Vec<String> = words.iter().map(|w| stem(w)).collect();
    let tokens = tokens(&text, &stems);
    let matches: Vec<&Token> = tokens.iter().filter(|t| t.term.is_some()).collect();
    let (start, end) = window(&text, &matches);
    let mut out = String::with_capacity((end - start) * 2);
    if start > 0 {
        out.push('…');
    }
    let mut marks = matches
        .iter()
        .filter(|t| t.start >= start && t.end <= end)
        .peekable();
    let mut i = start;
    while i < end {
        if let Some(t) = marks.next_if(|t| t.start == i) {
            out.push_str("<mark>");
            escape(&text[t.start..t.end], &mut out);
            out.push_str("</mark>");
            i = t.end;
        } else {
            escape(&text[i..=i], &mut out);
            i += 1;
        }
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

/// The words of `text` (runs of letters and digits), each with the query word it matches.
fn tokens(text: &[char], stems: &[String]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && text[i].is_alphanumeric() {
            i += 1;
        }
        let word: String = text[start..i].iter().collect();
        let stemmed = stem(&word);
        let term = stems.iter().position(|s| *s == stemmed);
        tokens.push(Token {
            start,
            end: i,
            term,
        });
    }
    tokens
}

/// The char range of the snippet: around the densest matches, cut at word boundaries.
fn window(text: &[char], matches: &[&Token]) -> (usize, usize) {
    let len = text.len();
    if len <= MAX_SNIPPET_CHARS {
        return (0, len);
    }
    let mut best: Option<(usize, usize, usize, usize)> = None; // (distinct, total, first, last)
    for (i, first) in matches.iter().enumerate() {
        let inside: Vec<&&Token> = matches[i..]
            .iter()
            .take_while(|t| t.end - first.start <= MAX_SNIPPET_CHARS)
            .collect();
        let distinct = inside
            .iter()
            .filter_map(|t| t.term)
            .collect::<HashSet<_>>()
            .len();
        let last = inside.last().map_or(first.end, |t| t.end);
        let better = best.is_none_or(|(d, n, _, _)| (distinct, inside.len()) > (d, n));
        if better {
            best = Some((distinct, inside.len(), first.start, last));
        }
    }
    let (first, last) = best.map_or((0, 0), |(_, _, first, last)| (first, last));
    let slack = MAX_SNIPPET_CHARS.saturating_sub(last - first);
    let mut start = first.saturating_sub((slack / 2).min(MAX_LEAD_CHARS));
    let mut end = (start + MAX_SNIPPET_CHARS).min(len);
    if end == len {
        start = len.saturating_sub(MAX_SNIPPET_CHARS);
    }
    // Whole words only: a cut word is left out.
    while start > 0 && start < first && text[start - 1].is_alphanumeric() {
        start += 1;
    }
    while end < len && end > last && text[end].is_alphanumeric() && text[end - 1].is_alphanumeric()
    {
        end -= 1;
    }
    while start < end && text[start].is_whitespace() {
        start += 1;
    }
    while end > start && text[end - 1].is_whitespace() {
        end -= 1;
    }
    (start, end)
}

/// Appends `chars` to `out` with `&`, `<`, `>`, `"` and `'` escaped.
fn escape(chars: &[char], out: &mut String) {
    for c in chars {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(*c),
        }
    }
}
