//! Plain-text tools of the offline tutor: lesson markdown to sentences, excerpts, word overlap,
//! meaning flips and a stable hash. All of it is deterministic.

/// Longest excerpt shown at once, in characters.
pub(super) const EXCERPT_CHARS: usize = 600;
/// Most sentences in one excerpt.
const EXCERPT_SENTENCES: usize = 3;

/// Words ending in a period that do not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "approx", "fig", "no", "cf",
];

/// Words too common to say what a sentence is about (shorter words are ignored anyway).
const STOPWORDS: &[&str] = &[
    "the", "and", "are", "was", "were", "for", "with", "that", "this", "these", "those", "what",
    "which", "who", "whom", "how", "why", "when", "where", "does", "did", "can", "could", "would",
    "should", "will", "shall", "may", "might", "must", "has", "have", "had", "its", "it's", "from",
    "into", "about", "than", "then", "there", "their", "they", "them", "you", "your", "our", "not",
    "but", "all", "any", "some", "such", "also", "just", "only", "very", "more", "most", "other",
    "each", "been", "being", "tell", "explain", "mean", "means", "please", "thing", "things",
];

/// Lesson markdown reduced to prose paragraphs: code fences, headings, tables, rules, images and
/// admonition fences dropped; links reduced to their text; list items as their own paragraphs.
pub(super) fn paragraphs(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut in_fence = false;
    let flush = |current: &mut Vec<String>, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(current.join(" "));
            current.clear();
        }
    };
    for raw in markdown.lines() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_fence = !in_fence;
            flush(&mut current, &mut out);
            continue;
        }
        if in_fence || is_noise(line) {
            flush(&mut current, &mut out);
            continue;
        }
        let line = line.trim_start_matches('>').trim();
        let (is_item, body) = strip_list_marker(line);
        if is_item {
            flush(&mut current, &mut out);
        }
        let body = inline(body);
        if !body.is_empty() {
            current.push(body);
        }
        if is_item {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

fn is_noise(line: &str) -> bool {
    line.is_empty()
        || line.starts_with('#')
        || line.starts_with('|')
        || line.starts_with(":::")
        || line.starts_with("<!--")
        || (line.len() >= 3 && line.chars().all(|c| matches!(c, '-' | '*' | '_' | ' ')))
}

/// Whether the line is a list item, and its text without the marker.
fn strip_list_marker(line: &str) -> (bool, &str) {
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return (true, rest.trim());
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = line[digits..].strip_prefix(". ")
    {
        return (true, rest.trim());
    }
    (false, line)
}

/// Inline markdown to readable text: images dropped, links to their text, bold markers and
/// marker-like brackets removed (lesson text must never smuggle a correct-option marker in).
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let is_image = rest[..open].ends_with('!');
        let before = if is_image {
            &rest[..open - 1]
        } else {
            &rest[..open]
        };
        out.push_str(before);
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target = &after[close + 2..];
            target.find(')').map(|end| (close, close + 2 + end + 1))
        });
        match link {
            Some((close, consumed)) if !after[..close].contains('[') => {
                if !is_image {
                    out.push_str(&after[..close]);
                }
                rest = &after[consumed..];
            }
            _ => {
                if is_image {
                    out.push('!');
                }
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    let out = out.replace("**", "").replace("[[", "[").replace("]]", "]");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sentences of the lesson text, in order.
pub(super) fn sentences(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in paragraphs(markdown) {
        let mut current: Vec<&str> = Vec::new();
        for word in paragraph.split_whitespace() {
            current.push(word);
            if ends_sentence(word) {
                out.push(current.join(" "));
                current.clear();
            }
        }
        if !current.is_empty() {
            out.push(current.join(" "));
        }
    }
    out
}

fn ends_sentence(word: &str) -> bool {
    let core = word.trim_end_matches(['"', '\'', ')', '”', '’', '*', '_']);
    let Some(last) = core.chars().last() else {
        return false;
    };
    match last {
        '!' | '?' => true,
        '.' => {
            let stem = core.trim_end_matches('.').to_lowercase();
            let stem = stem.trim_start_matches(['(', '"', '\'', '“', '‘']);
            stem.chars().count() > 1 && !ABBREVIATIONS.contains(&stem)
        }
        _ => false,
    }
}

/// Consecutive groups of at most three sentences and [`EXCERPT_CHARS`] characters, each a
/// range of indices into `sentences`.
pub(super) fn windows(sentences: &[String]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, sentence) in sentences.iter().enumerate() {
        let len = sentence.chars().count() + 1;
        let full = i - start >= EXCERPT_SENTENCES || (i > start && chars + len > EXCERPT_CHARS);
        if full {
            out.push(start..i);
            start = i;
            chars = 0;
        }
        chars += len;
    }
    if start < sentences.len() {
        out.push(start..sentences.len());
    }
    out
}

/// `text` cut to at most `max` characters on a word boundary, with an ellipsis when cut.
pub(super) fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let kept = match cut.rfind(char::is_whitespace) {
        Some(space) if space > 0 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", kept.trim_end_matches([',', ';', ':', ' ']))
}

/// The word with its leading and trailing punctuation split off: `(prefix, core, suffix)`.
pub(super) fn split_word(token: &str) -> (&str, &str, &str) {
    let start = token
        .find(|c: char| c.is_alphanumeric())
        .unwrap_or(token.len());
    let end = token
        .rfind(|c: char| c.is_alphanumeric())
        .map_or(start, |i| {
            i + token[i..].chars().next().map_or(1, char::len_utf8)
        });
    (
        &token[..start],
        &token[start..end.max(start)],
        &token[end.max(start)..],
    )
}

/// Normal form of a word for overlap: lower case, a plural `s` dropped.
fn normal(core: &str) -> String {
    let lower = core.to_lowercase();
    match lower.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 4 && !stem.ends_with('s') => stem.to_string(),
        _ => lower,
    }
}

/// Content words of `text`, normalised, in order of appearance, without repeats.
pub(super) fn keywords(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-')) {
        let core = token.trim_matches(['\'', '-']);
        if core.chars().count() < 3 || STOPWORDS.contains(&core.to_lowercase().as_str()) {
            continue;
        }
        let word = normal(core);
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The candidate sharing the most content words with `query` (earliest on ties) and the
/// longest shared word; `None` when nothing is shared.
pub(super) fn best_overlap<'a>(query: &str, candidates: &'a [String]) -> Option<(&'a str, String)> {
    let wanted = keywords(query);
    let mut best: Option<(usize, &'a str, String)> = None;
    for candidate in candidates {
        let words = keywords(candidate);
        let shared: Vec<&String> = wanted.iter().filter(|w| words.contains(w)).collect();
        // The earliest of the longest shared words: the query's own order breaks ties.
        let Some(longest) = shared
            .iter()
            .min_by_key(|w| std::cmp::Reverse(w.chars().count()))
        else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|(score, _, _)| shared.len() > *score)
        {
            best = Some((shared.len(), candidate.as_str(), (*longest).clone()));
        }
    }
    best.map(|(_, sentence, word)| (sentence, word))
}

/// `sentence` with the first word whose normal form is `keyword` in bold.
pub(super) fn bold_word(sentence: &str, keyword: &str) -> String {
    let mut done = false;
    let words: Vec<String> = sentence
        .split(' ')
        .map(|token| {
            let (prefix, core, suffix) = split_word(token);
            if done || core.is_empty() || normal(core) != keyword {
                return token.to_string();
            }
            done = true;
            format!("{prefix}**{core}**{suffix}")
        })
        .collect();
    words.join(" ")
}

/// Stable 64-bit hash (FNV-1a with a final mix), so choices do not change between builds.
pub(super) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // splitmix64 finaliser: spreads the low-entropy FNV bits over the whole word.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}
