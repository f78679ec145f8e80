//! Lessons of the book: the validated path that names one, its raw text and its parsed chunks.

pub(crate) mod markdown;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use markdown::parse_lesson;

/// Longest accepted lesson path, in characters, after normalisation.
pub const MAX_LESSON_PATH_CHARS: usize = 300;

/// Prefixes the book's own links carry; the sources add the docs prefix themselves.
const STRIPPED_PREFIXES: [&str; 2] = ["apps/learn-app/docs/", "docs/"];

/// Extensions a client may send; the sources try every extension themselves.
const STRIPPED_EXTENSIONS: [&str; 2] = [".mdx", ".md"];

/// Why a raw lesson path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LessonPathError {
    /// Nothing is left once whitespace, prefix and extension are removed.
    #[error("lesson path is empty")]
    Empty,
    /// The normalised path is longer than [`MAX_LESSON_PATH_CHARS`].
    #[error("lesson path is longer than {max} characters", max = MAX_LESSON_PATH_CHARS)]
    TooLong,
    /// The path contains `..`, which could climb out of the docs folder.
    #[error("lesson path must not contain '..'")]
    ParentReference,
    /// The path starts with `/`.
    #[error("lesson path must be relative (no leading '/')")]
    Absolute,
    /// The path contains a backslash.
    #[error("lesson path must use '/' as separator, not '\\'")]
    Backslash,
    /// The path contains `%`; percent-encoded paths are refused rather than decoded.
    #[error("lesson path must not be percent-encoded")]
    PercentEncoded,
    /// The path contains a control character.
    #[error("lesson path must not contain control characters")]
    ControlCharacter,
    /// The path contains `//` (an empty segment).
    #[error("lesson path must not contain empty segments ('//')")]
    EmptySegment,
    /// The path ends with `/`.
    #[error("lesson path must not end with '/'")]
    TrailingSlash,
    /// The path contains a character outside `[A-Za-z0-9._/-]`.
    #[error(
        "lesson path contains the character {0:?}; only letters, digits, '.', '_', '-' and '/' are allowed"
    )]
    InvalidCharacter(char),
}

/// A lesson path that passed validation: relative to the docs prefix, without extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LessonPath(String);

impl LessonPath {
    /// Validates and normalises a path as clients send it.
    ///
    /// Whitespace around it, a leading `apps/learn-app/docs/` or `docs/` and a trailing `.md`
    /// or `.mdx` are removed; what is left must be a relative path of `[A-Za-z0-9._/-]`
    /// without `..`, `//` or a trailing `/`, so it can only name a file under the docs prefix.
    ///
    /// The result is canonical: every spelling of one lesson file gives the same path, so a
    /// cache key or a purge covers all of them. `.` segments are dropped (`a/./b` is `a/b`),
    /// and a trailing `/index` or `/README` names its folder (`x/index` and `x/README.md` are
    /// `x`), as the sources try `x/index.md` and `x/README.md` for `x` themselves.
    ///
    /// # Errors
    /// Returns the first [`LessonPathError`] the normalised path breaks.
    pub fn parse(raw: &str) -> Result<Self, LessonPathError> {
        let mut path = raw.trim();
        if let Some(rest) = STRIPPED_PREFIXES.iter().find_map(|p| path.strip_prefix(p)) {
            path = rest;
        }
        if let Some(rest) = STRIPPED_EXTENSIONS
            .iter()
            .find_map(|e| path.strip_suffix(e))
        {
            path = rest;
        }
        validate(path)?;
        let canonical = canonical(path);
        if canonical.is_empty() {
            return Err(LessonPathError::Empty);
        }
        Ok(Self(canonical))
    }

    /// Wraps an already validated path (tests, trusted stores). Prefer [`LessonPath::parse`].
    pub fn new_unchecked(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// The normalised path, without extension, relative to the docs prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LessonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// File names that stand for their folder; the sources try `{folder}/{name}.md` for a folder.
const FOLDER_PAGES: [&str; 2] = ["index", "README"];

/// The one spelling of a validated path: no `.` segments, no trailing folder page. Only
/// shortens, so the length bound checked before still holds.
fn canonical(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| *s != ".").collect();
    // `x/index/index` is `x` too; a lone `index` stays (it has no folder to stand for).
    while segments.len() > 1 && segments.last().is_some_and(|s| FOLDER_PAGES.contains(s)) {
        segments.pop();
    }
    segments.join("/")
}

/// Checks a normalised path; the specific refusals come first so messages say what is wrong.
fn validate(path: &str) -> Result<(), LessonPathError> {
    if path.is_empty() {
        return Err(LessonPathError::Empty);
    }
    if path.chars().count() > MAX_LESSON_PATH_CHARS {
        return Err(LessonPathError::TooLong);
    }
    if path.chars().any(char::is_control) {
        return Err(LessonPathError::ControlCharacter);
    }
    if path.contains('\\') {
        return Err(LessonPathError::Backslash);
    }
    if path.contains('%') {
        return Err(LessonPathError::PercentEncoded);
    }
    if path.starts_with('/') {
        return Err(LessonPathError::Absolute);
    }
    if path.contains("..") {
        return Err(LessonPathError::ParentReference);
    }
    if path.contains("//") {
        return Err(LessonPathError::EmptySegment);
    }
    if path.ends_with('/') {
        return Err(LessonPathError::TrailingSlash);
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')))
    {
        return Err(LessonPathError::InvalidCharacter(bad));
    }
    Ok(())
}

/// Markdown of a lesson as the source returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawLesson {
    /// The path that was asked for.
    pub path: LessonPath,
    /// The markdown text.
    pub markdown: String,
}

/// A lesson as held by a cache, with its freshness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLesson {
    /// The lesson text.
    pub lesson: RawLesson,
    /// Unix seconds when it was fetched from the source.
    pub fetched_at: i64,
    /// True when the entry outlived its TTL and is served only because the source failed.
    pub stale: bool,
}

/// One teaching step of a lesson: a `## ` section, merged or split to a teachable size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonChunk {
    /// Position in the lesson, from 0 without gaps.
    pub index: u32,
    /// Section heading (or the lesson title for the introduction), `(part n)` for later parts.
    pub title: String,
    /// Markdown of the chunk, its `## ` heading line included.
    pub text: String,
}

/// A lesson ready for tutoring: front matter and MDX imports removed, split into chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedLesson {
    /// The lesson's path.
    pub path: LessonPath,
    /// Title from the front matter, the `# ` heading or the path, in that order.
    pub title: String,
    /// The cleaned markdown (no front matter, no imports).
    pub body: String,
    /// Teaching steps in order; empty when the lesson has no text.
    pub chunks: Vec<LessonChunk>,
}

impl ParsedLesson {
    /// The first `max_chars` characters of the body (all of it when shorter), for grounding.
    pub fn excerpt(&self, max_chars: usize) -> &str {
        match self.body.char_indices().nth(max_chars) {
            Some((end, _)) => &self.body[..end],
            None => &self.body,
        }
    }
}
