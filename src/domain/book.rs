//! The book as a whole, from its lessons' markdown alone (no I/O): where each lesson sits
//! (part, chapter, order), which lessons it links to, and what an author must fix before a
//! student meets it. The sync pipeline's QUALITY, TAXONOMY and GRAPH stages.

mod links;
mod placement;
mod quality;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::lesson::LessonPath;
pub use links::lesson_links;
pub use placement::{Placement, placement};
pub use quality::{Problem, ProblemKind};

/// Most lessons a book may list (a catalog stops there and says so).
pub const MAX_BOOK_LESSONS: usize = 10_000;

/// The lesson path of a file of the book, relative to the docs folder: `a/b.md` → `a/b`,
/// `a/index.mdx` and `a/README.md` → `a`. `None` for anything that is not a lesson (another
/// extension, a name starting with `_` or `.`, a path the lesson rules refuse).
pub fn lesson_path_of_file(relative: &str) -> Option<LessonPath> {
    let stem = relative
        .strip_suffix(".mdx")
        .or_else(|| relative.strip_suffix(".md"))?;
    if relative
        .split('/')
        .any(|segment| segment.starts_with('_') || segment.starts_with('.'))
    {
        return None;
    }
    let stem = stem
        .strip_suffix("/index")
        .or_else(|| stem.strip_suffix("/README"))
        .unwrap_or(stem);
    LessonPath::parse(stem).ok()
}

/// Most links kept per lesson (a generated page with thousands is refused past this).
pub const MAX_LINKS: usize = 500;

/// Most problems kept per lesson.
pub const MAX_PROBLEMS: usize = 100;

/// What one lesson's markdown says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonAnalysis {
    /// The lesson.
    pub path: LessonPath,
    /// Its title (front matter, `# ` heading, else from the path).
    pub title: String,
    /// Where it sits in the book.
    pub placement: Placement,
    /// Lessons it links to (resolved paths, each once, in order of appearance).
    pub links: Vec<LessonPath>,
    /// What the author should fix, broken links aside (they need the whole book).
    pub problems: Vec<Problem>,
}

/// Analyses one lesson.
pub fn analyze(path: &LessonPath, markdown: &str) -> LessonAnalysis {
    let parsed = super::lesson::parse_lesson(path, markdown);
    let (placement, mut problems) = placement(path, markdown);
    problems.extend(quality::problems(markdown, &parsed));
    problems.truncate(MAX_PROBLEMS);
    LessonAnalysis {
        path: path.clone(),
        title: parsed.title,
        placement,
        links: lesson_links(path, markdown),
        problems,
    }
}

/// One lesson in the table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TocLesson {
    /// Path.
    pub path: LessonPath,
    /// Title.
    pub title: String,
    /// The lesson before it in reading order, if any.
    pub previous: Option<LessonPath>,
    /// The lesson after it, if any.
    pub next: Option<LessonPath>,
    /// Lessons that link to this one.
    pub linked_from: Vec<LessonPath>,
}

/// A chapter: lessons in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TocChapter {
    /// Name (from the folder).
    pub name: String,
    /// Lessons in reading order.
    pub lessons: Vec<TocLesson>,
}

/// A part: chapters in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TocPart {
    /// Name (from the folder).
    pub name: String,
    /// Chapters in order.
    pub chapters: Vec<TocChapter>,
}

/// The whole book: table of contents, graph and quality report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Book {
    /// Parts in order.
    pub parts: Vec<TocPart>,
    /// Every lesson's problems, broken links included, for lessons with any.
    pub report: Vec<(LessonPath, Vec<Problem>)>,
}

/// Assembles the book from its lessons' analyses: orders them, links previous and next,
/// inverts the links and adds a broken-link problem for every link to no known lesson.
pub fn assemble(mut lessons: Vec<LessonAnalysis>) -> Book {
    lessons.sort_by(|a, b| {
        a.placement
            .sort_key(&a.path)
            .cmp(&b.placement.sort_key(&b.path))
    });
    let known: BTreeSet<&str> = lessons.iter().map(|l| l.path.as_str()).collect();
    let mut report = Vec::new();
    for lesson in &lessons {
        let mut problems = lesson.problems.clone();
        for link in &lesson.links {
            if !known.contains(link.as_str()) && problems.len() < MAX_PROBLEMS {
                problems.push(Problem::new(ProblemKind::BrokenLink, link.as_str()));
            }
        }
        if !problems.is_empty() {
            report.push((lesson.path.clone(), problems));
        }
    }
    let linked_from = |target: &LessonPath| -> Vec<LessonPath> {
        lessons
            .iter()
            .filter(|l| l.links.contains(target) && l.path != *target)
            .map(|l| l.path.clone())
            .collect()
    };
    let mut parts: Vec<TocPart> = Vec::new();
    for (i, lesson) in lessons.iter().enumerate() {
        let entry = TocLesson {
            path: lesson.path.clone(),
            title: lesson.title.clone(),
            previous: i.checked_sub(1).map(|p| lessons[p].path.clone()),
            next: lessons.get(i + 1).map(|n| n.path.clone()),
            linked_from: linked_from(&lesson.path),
        };
        let part_name = lesson.placement.part.clone().unwrap_or_default();
        if parts.last().is_none_or(|p| p.name != part_name) {
            parts.push(TocPart {
                name: part_name,
                chapters: Vec::new(),
            });
        }
        let part = parts.last_mut().expect("pushed above");
        let chapter_name = lesson.placement.chapter.clone().unwrap_or_default();
        if part.chapters.last().is_none_or(|c| c.name != chapter_name) {
            part.chapters.push(TocChapter {
                name: chapter_name,
                lessons: Vec::new(),
            });
        }
        part.chapters
            .last_mut()
            .expect("pushed above")
            .lessons
            .push(entry);
    }
    Book { parts, report }
}
