//! QUALITY: what a content author must fix before a student meets the lesson.

use serde::{Deserialize, Serialize};

use super::links::link_targets;
use crate::domain::lesson::ParsedLesson;
use crate::domain::lesson::markdown::{
    Fences, MAX_CHUNK_CHARS, MIN_CHUNK_CHARS, first_h1, split_front_matter,
};

/// Longest detail kept.
const MAX_DETAIL_CHARS: usize = 300;

/// Kinds of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// No `title:` in the front matter and no `# ` heading: the title comes from the path.
    MissingTitle,
    /// `title:` is there but empty.
    EmptyTitle,
    /// No text to teach at all.
    NoSections,
    /// A `## ` section too short to teach on its own (it is merged with a neighbour).
    SectionTooShort,
    /// A `## ` section too long for one step (it is split at paragraphs).
    SectionTooLong,
    /// A link to a lesson the book does not have.
    BrokenLink,
    /// An image without alternative text.
    ImageWithoutAlt,
    /// Front matter that does not parse, or a field of the wrong type.
    FrontMatterInvalid,
}

impl ProblemKind {
    /// The stable snake_case name (also its serde name): `missing_title`, `broken_link`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingTitle => "missing_title",
            Self::EmptyTitle => "empty_title",
            Self::NoSections => "no_sections",
            Self::SectionTooShort => "section_too_short",
            Self::SectionTooLong => "section_too_long",
            Self::BrokenLink => "broken_link",
            Self::ImageWithoutAlt => "image_without_alt",
            Self::FrontMatterInvalid => "front_matter_invalid",
        }
    }
}

/// One problem, with a short detail (a heading, a link target, an image source).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// Where or what, bounded and without control characters.
    pub detail: String,
}

impl Problem {
    /// A problem with `detail` bounded to 300 characters.
    pub fn new(kind: ProblemKind, detail: &str) -> Self {
        Self {
            kind,
            detail: detail
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_DETAIL_CHARS)
                .collect(),
        }
    }
}

fn title_problems(lines: &[&str]) -> Option<Problem> {
    let (front_matter, content) = split_front_matter(lines);
    let declared = front_matter.and_then(|fm| {
        fm.iter()
            .find_map(|line| line.strip_prefix("title:"))
            .map(|v| v.trim().trim_matches(['"', '\'']).trim().to_string())
    });
    match declared {
        Some(title) if title.is_empty() => Some(Problem::new(ProblemKind::EmptyTitle, "title:")),
        Some(_) => None,
        None if first_h1(content).is_some() => None,
        None => Some(Problem::new(
            ProblemKind::MissingTitle,
            "no title: in the front matter and no # heading",
        )),
    }
}

/// `## ` sections of the cleaned body with their length in characters (fenced code counted).
fn sections(body: &str) -> Vec<(String, usize)> {
    let mut fences = Fences::default();
    let mut found: Vec<(String, usize)> = Vec::new();
    for line in body.lines() {
        let fenced = fences.step(line);
        if !fenced && let Some(heading) = line.strip_prefix("## ") {
            found.push((heading.trim().to_string(), 0));
            continue;
        }
        if let Some((_, len)) = found.last_mut() {
            *len += line.chars().count() + 1;
        }
    }
    found
}

fn images_without_alt(markdown: &str) -> Vec<Problem> {
    let mut fences = Fences::default();
    let mut found = Vec::new();
    for line in markdown.lines() {
        if fences.step(line) {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("![") {
            let alt_end = rest[at..].find("](").map(|e| at + e);
            if let Some(end) = alt_end
                && rest[at + 2..end].trim().is_empty()
            {
                let src = link_targets(&rest[at..]).first().map_or("", |(_, t)| *t);
                found.push(Problem::new(ProblemKind::ImageWithoutAlt, src));
            }
            rest = &rest[at + 2..];
        }
        let lower = line.to_ascii_lowercase();
        for tag in lower.split("<img").skip(1) {
            let tag = tag.split('>').next().unwrap_or(tag);
            if !tag.contains("alt=") || tag.contains("alt=\"\"") || tag.contains("alt=''") {
                found.push(Problem::new(ProblemKind::ImageWithoutAlt, "<img>"));
            }
        }
    }
    found
}

/// Every problem of one lesson but broken links.
pub(super) fn problems(markdown: &str, parsed: &ParsedLesson) -> Vec<Problem> {
    let markdown = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let lines: Vec<&str> = markdown.lines().collect();
    let mut found: Vec<Problem> = title_problems(&lines).into_iter().collect();
    if parsed.chunks.is_empty() {
        found.push(Problem::new(
            ProblemKind::NoSections,
            "the lesson has no text",
        ));
    }
    for (heading, chars) in sections(&parsed.body) {
        if chars < MIN_CHUNK_CHARS {
            found.push(Problem::new(
                ProblemKind::SectionTooShort,
                &format!("{heading} ({chars} characters, fewer than {MIN_CHUNK_CHARS})"),
            ));
        } else if chars > MAX_CHUNK_CHARS {
            found.push(Problem::new(
                ProblemKind::SectionTooLong,
                &format!("{heading} ({chars} characters, more than {MAX_CHUNK_CHARS})"),
            ));
        }
    }
    found.extend(images_without_alt(markdown));
    found
}
