//! Lesson markdown to teaching chunks: front matter and MDX imports out, `## ` sections in.

#[cfg(test)]
mod tests;

use super::{LessonChunk, LessonPath, ParsedLesson};

/// Sections shorter than this are too thin to teach on their own and join a neighbour.
pub(crate) const MIN_CHUNK_CHARS: usize = 200;

/// Sections longer than this are split at paragraphs so one step stays digestible.
pub(crate) const MAX_CHUNK_CHARS: usize = 4_000;

/// Title used when neither the markdown nor the path yields one.
const FALLBACK_TITLE: &str = "Lesson";

/// Parses lesson markdown into its title, cleaned body and chunks. Never fails: any text,
/// however malformed, gives a lesson (with zero chunks when there is nothing to teach).
pub fn parse_lesson(path: &LessonPath, markdown: &str) -> ParsedLesson {
    let markdown = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let lines: Vec<&str> = markdown.lines().collect();
    let (front_matter, content) = split_front_matter(&lines);
    let kept = trim_blank_lines(drop_imports(content));
    let title = front_matter
        .and_then(front_matter_title)
        .or_else(|| first_h1(&kept))
        .unwrap_or_else(|| title_from_path(path));
    let drafts = split_large(merge_small(sections(&kept, &title)));
    let chunks = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| LessonChunk {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            title: d.title,
            text: d.text,
        })
        .collect();
    ParsedLesson {
        path: path.clone(),
        title,
        body: kept.join("\n"),
        chunks,
    }
}

/// Tracks fenced code blocks line by line (``` or ~~~, closed by the same char, as long or longer).
#[derive(Debug, Default)]
pub(crate) struct Fences {
    open: Option<(char, usize)>,
}

impl Fences {
    /// Feeds the next line; true when it belongs to a fenced block, fence lines included.
    pub(crate) fn step(&mut self, line: &str) -> bool {
        match self.open {
            Some((ch, len)) => {
                if matches!(fence_marker(line), Some((c, l, rest)) if c == ch && l >= len && rest.trim().is_empty())
                {
                    self.open = None;
                }
                true
            }
            None => match fence_marker(line) {
                // A backtick fence's info string cannot hold a backtick: that is inline code.
                Some(('`', _, rest)) if rest.contains('`') => false,
                Some((ch, len, _)) => {
                    self.open = Some((ch, len));
                    true
                }
                None => false,
            },
        }
    }
}

/// The fence char, run length and the rest of the line, when `line` starts a fence marker.
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    let text = line.trim_start_matches(' ');
    if line.len() - text.len() > 3 {
        return None;
    }
    let ch = text.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    // The fence chars are ASCII, so the run length in chars is also its length in bytes.
    let len = text.chars().take_while(|&c| c == ch).count();
    (len >= 3).then(|| (ch, len, &text[len..]))
}

/// Splits a leading `---` … `---` block off; without a closing line there is no front matter.
pub(crate) fn split_front_matter<'a, 'b>(
    lines: &'b [&'a str],
) -> (Option<&'b [&'a str]>, &'b [&'a str]) {
    let is_delimiter = |line: &&str| line.trim_end() == "---";
    if lines.first().is_some_and(is_delimiter)
        && let Some(end) = lines.iter().skip(1).position(is_delimiter)
    {
        let close = end + 1;
        return (Some(&lines[1..close]), &lines[close + 1..]);
    }
    (None, lines)
}

/// The `title:` value of the front matter, quotes stripped, when present and not empty.
fn front_matter_title(front_matter: &[&str]) -> Option<String> {
    let value = front_matter
        .iter()
        .find_map(|line| line.strip_prefix("title:"))?
        .trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value)
        .trim();
    (!unquoted.is_empty()).then(|| unquoted.to_string())
}

/// Removes MDX `import` lines outside fenced code; a code sample may show imports.
fn drop_imports<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut fences = Fences::default();
    lines
        .iter()
        .copied()
        .filter(|line| fences.step(line) || !is_mdx_import(line))
        .collect()
}

/// `import X from '…'` or `import '…'`; prose starting with "import" is kept.
fn is_mdx_import(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("import ") else {
        return false;
    };
    let starts_quoted = |s: &str| s.starts_with('\'') || s.starts_with('"');
    starts_quoted(rest.trim_start())
        || rest
            .rsplit_once(" from ")
            .is_some_and(|(_, source)| starts_quoted(source.trim_start()))
}

/// Drops blank lines at both ends, keeping the inner ones.
fn trim_blank_lines<'a, T: AsRef<[&'a str]>>(lines: T) -> Vec<&'a str> {
    let lines = lines.as_ref();
    let is_text = |l: &&str| !l.trim().is_empty();
    match (
        lines.iter().position(is_text),
        lines.iter().rposition(is_text),
    ) {
        (Some(start), Some(end)) => lines[start..=end].to_vec(),
        _ => Vec::new(),
    }
}

/// The text of the first `# ` heading outside fenced code.
pub(crate) fn first_h1(lines: &[&str]) -> Option<String> {
    let mut fences = Fences::default();
    lines
        .iter()
        .filter(|line| !fences.step(line))
        .find_map(|line| line.strip_prefix("# "))
        .map(heading_text)
        .filter(|t| !t.is_empty())
}

/// Heading text without its optional closing `#` run.
fn heading_text(raw: &str) -> String {
    let text = raw.trim();
    let open = text.trim_end_matches('#');
    if open.is_empty() || open.ends_with([' ', '\t']) {
        open.trim_end().to_string()
    } else {
        text.to_string()
    }
}

/// `01-part/03-closures-and-traits` → `Closures And Traits`.
fn title_from_path(path: &LessonPath) -> String {
    let segment = path.as_str().rsplit('/').next().unwrap_or_default();
    let unnumbered = segment
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix(['-', '_', '.'])
        .filter(|rest| !rest.is_empty() && segment.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(segment);
    let title = unnumbered
        .split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        FALLBACK_TITLE.to_string()
    } else {
        title
    }
}

/// Upper-cases the first letter and keeps the rest (so acronyms survive).
fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A chunk before numbering.
#[derive(Debug)]
struct Draft {
    title: String,
    text: String,
    chars: usize,
}

impl Draft {
    fn new(title: String, text: String) -> Self {
        let chars = text.chars().count();
        Self { title, text, chars }
    }

    /// Appends `other`'s text, keeping this draft's title.
    fn absorb(&mut self, other: Draft) {
        self.text.push_str("\n\n");
        self.text.push_str(&other.text);
        self.chars += 2 + other.chars;
    }
}

/// Splits at `## ` lines outside fences; the text before the first one is the introduction.
fn sections(lines: &[&str], lesson_title: &str) -> Vec<Draft> {
    let mut fences = Fences::default();
    let mut raw: Vec<(String, Vec<&str>)> = vec![(lesson_title.to_string(), Vec::new())];
    for line in lines {
        let fenced = fences.step(line);
        if let Some(heading) = line.strip_prefix("## ").filter(|_| !fenced) {
            let title = heading_text(heading);
            let title = if title.is_empty() {
                lesson_title.to_string()
            } else {
                title
            };
            raw.push((title, Vec::new()));
        }
        if let Some((_, section)) = raw.last_mut() {
            section.push(line);
        }
    }
    raw.into_iter()
        .enumerate()
        // An introduction holding only the `# ` title repeats the title: nothing to teach.
        .filter(|(i, (_, lines))| *i > 0 || lines.iter().any(|l| is_real_intro_text(l)))
        .map(|(_, (title, lines))| Draft::new(title, trim_blank_lines(lines).join("\n")))
        .filter(|d| !d.text.is_empty())
        .collect()
}

/// True for an introduction line that teaches something (not blank, not the `# ` title).
fn is_real_intro_text(line: &str) -> bool {
    !line.trim().is_empty() && line.trim_end() != "#" && !line.starts_with("# ")
}

/// Merges thin sections into the previous one; a thin first section absorbs the next.
fn merge_small(sections: Vec<Draft>) -> Vec<Draft> {
    let mut merged: Vec<Draft> = Vec::with_capacity(sections.len());
    for section in sections {
        match merged.last_mut() {
            // Only the first draft can still be thin here: later thin ones were absorbed.
            Some(last) if section.chars < MIN_CHUNK_CHARS || last.chars < MIN_CHUNK_CHARS => {
                last.absorb(section);
            }
            _ => merged.push(section),
        }
    }
    merged
}

/// Splits oversized drafts at blank lines outside fences into `(part n)` drafts.
fn split_large(drafts: Vec<Draft>) -> Vec<Draft> {
    let mut out = Vec::with_capacity(drafts.len());
    for draft in drafts {
        if draft.chars <= MAX_CHUNK_CHARS {
            out.push(draft);
            continue;
        }
        for (n, text) in pack_blocks(&draft.text).into_iter().enumerate() {
            let title = if n == 0 {
                draft.title.clone()
            } else {
                format!("{} (part {})", draft.title, n + 1)
            };
            out.push(Draft::new(title, text));
        }
    }
    out
}

/// Greedily packs paragraphs into parts of at most [`MAX_CHUNK_CHARS`]; a paragraph (or
/// fenced block) longer than that stays whole. A part still thinner than [`MIN_CHUNK_CHARS`]
/// (typically the lone `## ` heading) keeps the next paragraph rather than stand alone.
fn pack_blocks(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for block in paragraphs(text) {
        let block_chars = block.chars().count();
        if current_chars >= MIN_CHUNK_CHARS && current_chars + 2 + block_chars > MAX_CHUNK_CHARS {
            parts.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if current_chars > 0 {
            current.push_str("\n\n");
            current_chars += 2;
        }
        current.push_str(&block);
        current_chars += block_chars;
    }
    if current_chars > 0 {
        parts.push(current);
    }
    parts
}

/// Paragraphs of `text`: runs of lines separated by blank lines that are not inside a fence.
fn paragraphs(text: &str) -> Vec<String> {
    let mut fences = Fences::default();
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        let fenced = fences.step(line);
        if !fenced && line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        blocks.push(current.join("\n"));
    }
    blocks
}
