//! Outbound adapter: LessonSource over a local folder laid out like the book's docs prefix.

mod catalog;
#[cfg(test)]
mod tests;

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::domain::lesson::{LessonPath, RawLesson};
use crate::domain::ports::{LessonSource, LessonSourceError};

/// File forms tried for a path, in the book's order of precedence.
const FORMS: [&str; 4] = [".md", ".mdx", "/index.md", "/README.md"];

/// Reads lessons from `{dir}/{path}.md` (and the other forms) on local disk.
#[derive(Debug, Clone)]
pub struct LocalLessonSource {
    dir: PathBuf,
}

impl LocalLessonSource {
    /// A source rooted at `dir` (the folder that plays the docs prefix).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl LessonSource for LocalLessonSource {
    async fn fetch(&self, path: &LessonPath) -> Result<RawLesson, LessonSourceError> {
        // Paths are validated already; this guards against `new_unchecked` misuse, since a
        // `..` or absolute path here would read outside the folder.
        let relative = Path::new(path.as_str());
        if path.as_str().is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(LessonSourceError::NotFound);
        }
        for form in FORMS {
            let file = self.dir.join(format!("{}{form}", path.as_str()));
            match tokio::fs::read(&file).await {
                Ok(bytes) => {
                    return Ok(RawLesson {
                        path: path.clone(),
                        markdown: String::from_utf8_lossy(&bytes).into_owned(),
                    });
                }
                // A folder named like the file, a file named like a folder, or a name too long
                // for the filesystem are all simply not this form of the lesson.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::NotFound
                            | ErrorKind::IsADirectory
                            | ErrorKind::NotADirectory
                            | ErrorKind::InvalidFilename
                    ) => {}
                Err(e) => {
                    tracing::warn!(lesson = %path, form, error = %e, "lesson file unreadable");
                    // The kind alone: the OS message may carry the absolute path.
                    return Err(LessonSourceError::Unavailable(format!(
                        "lesson file unreadable: {}",
                        e.kind()
                    )));
                }
            }
        }
        Err(LessonSourceError::NotFound)
    }
}
