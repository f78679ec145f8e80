//! The book's listing from a local folder: a walk of `LESSONS_DIR`.

use std::path::Path;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;

use super::LocalLessonSource;
use crate::domain::book::{MAX_BOOK_LESSONS, lesson_path_of_file};
use crate::domain::ports::{CatalogEntry, LessonCatalog, LessonSourceError};

/// Deepest folder nesting walked (the book has part/chapter/lesson; a loop of links stops here).
const MAX_DEPTH: usize = 8;

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<CatalogEntry>) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        if out.len() >= MAX_BOOK_LESSONS {
            tracing::warn!(
                limit = MAX_BOOK_LESSONS,
                "the book lists more lessons than the limit"
            );
            return Ok(());
        }
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, depth + 1, out)?;
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let Some(relative) = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(|p| p.replace('\\', "/"))
        else {
            continue;
        };
        let Some(lesson) = lesson_path_of_file(&relative) else {
            continue;
        };
        let meta = entry.metadata()?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        out.push(CatalogEntry {
            path: lesson,
            version: format!("{}-{modified}", meta.len()),
        });
    }
    Ok(())
}

#[async_trait]
impl LessonCatalog for LocalLessonSource {
    async fn list(&self) -> Result<Vec<CatalogEntry>, LessonSourceError> {
        let root = self.dir.clone();
        let listed = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, &root, 0, &mut out).map(|()| out)
        })
        .await
        .map_err(|e| LessonSourceError::Unavailable(format!("listing stopped: {e}")))?
        .map_err(|e| {
            LessonSourceError::Unavailable(format!("cannot list the lessons folder: {e}"))
        })?;
        let mut listed = listed;
        listed.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        // `a.md` and `a/index.md` name one lesson; the first form wins, as in `fetch`.
        listed.dedup_by(|later, first| later.path == first.path);
        Ok(listed)
    }
}
