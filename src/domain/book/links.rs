//! GRAPH: the lessons a lesson links to. Markdown links `[text](target)` outside fenced code
//! whose target is a relative path (or absolute within the book) resolve against the lesson's
//! folder; `.md`/`.mdx`, anchors and queries are dropped. External links, anchors of the same
//! page, `mailto:` and images are not lesson links.

use super::MAX_LINKS;
use crate::domain::lesson::LessonPath;
use crate::domain::lesson::markdown::Fences;

/// Every `](target)` of `line` that is not an image (`![…](…)`).
pub(super) fn link_targets(line: &str) -> Vec<(bool, &str)> {
    let mut found = Vec::new();
    let mut rest = line;
    let mut offset = 0;
    while let Some(at) = rest.find("](") {
        let start = at + 2;
        let Some(len) = rest[start..].find(')') else {
            break;
        };
        let target = rest[start..start + len].trim();
        // An image when the `[` that opens this link text is preceded by `!`.
        let before = &line[..offset + at];
        let image = before
            .rfind('[')
            .is_some_and(|open| open > 0 && before.as_bytes()[open - 1] == b'!');
        // A link title (`(target "title")`) is not part of the target.
        let target = target.split_whitespace().next().unwrap_or("");
        found.push((image, target));
        offset += start + len + 1;
        rest = &line[offset..];
    }
    found
}

/// Resolves `target` against the folder of `from`; `None` when it is not a lesson link.
fn resolve(from: &LessonPath, target: &str) -> Option<LessonPath> {
    let lower = target.to_ascii_lowercase();
    if target.is_empty()
        || target.starts_with('#')
        || lower.contains("://")
        || lower.starts_with("mailto:")
        || lower.starts_with("//")
    {
        return None;
    }
    let target = target.split(['#', '?']).next()?;
    let target = target
        .strip_suffix(".mdx")
        .or_else(|| target.strip_suffix(".md"))
        .unwrap_or(target)
        .trim_end_matches('/');
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut folder: Vec<&str> = from.as_str().split('/').collect();
        folder.pop();
        folder
    };
    let target = target
        .strip_prefix("/docs/")
        .or_else(|| target.strip_prefix('/'))
        .unwrap_or(target);
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    LessonPath::parse(&parts.join("/")).ok()
}

/// The lessons `markdown` (the lesson at `from`) links to, each once, in order.
pub fn lesson_links(from: &LessonPath, markdown: &str) -> Vec<LessonPath> {
    let mut fences = Fences::default();
    let mut links: Vec<LessonPath> = Vec::new();
    for line in markdown.lines() {
        if fences.step(line) {
            continue;
        }
        for (image, target) in link_targets(line) {
            if image {
                continue;
            }
            if let Some(path) = resolve(from, target)
                && path != *from
                && !links.contains(&path)
                && links.len() < MAX_LINKS
            {
                links.push(path);
            }
        }
    }
    links
}
