//! Lessons of the book: the validated path that names one and its raw text.

use serde::{Deserialize, Serialize};

/// A lesson path that passed validation (see the lessons issue for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LessonPath(String);

impl LessonPath {
    /// Wraps an already validated path. Validation lives with the lesson rules.
    pub fn new_unchecked(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// The normalised path, without extension, relative to the docs prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
