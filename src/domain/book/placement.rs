//! TAXONOMY: part, chapter and order of a lesson, from its path (`01-Foundations/02-Agents/
//! 01-what-is-an-agent`) and its front matter's `sidebar_position`.

use serde::{Deserialize, Serialize};

use super::quality::{Problem, ProblemKind};
use crate::domain::lesson::LessonPath;
use crate::domain::lesson::markdown::split_front_matter;

/// Where a lesson sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The first folder, named without its number (`Foundations`); none for a lesson at the
    /// book's root.
    pub part: Option<String>,
    /// The second folder (`Agents`), when the lesson is that deep.
    pub chapter: Option<String>,
    /// Numbers of the folders (`01-`, `02-`), for ordering.
    pub folder_order: Vec<Option<i64>>,
    /// Order within the chapter: `sidebar_position`, else the file's number.
    pub order: Option<i64>,
}

impl Placement {
    /// Reading order: folders by number then name, then the lesson's order, then its path.
    pub fn sort_key(&self, path: &LessonPath) -> (Vec<(i64, String)>, i64, String) {
        let folders = path
            .as_str()
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, folders)| {
                folders
                    .iter()
                    .zip(&self.folder_order)
                    .map(|(name, order)| (order.unwrap_or(i64::MAX), (*name).to_string()))
                    .collect()
            })
            .unwrap_or_default();
        (
            folders,
            self.order.unwrap_or(i64::MAX),
            path.as_str().to_string(),
        )
    }
}

/// `02-the-agent-loop` → (Some(2), "the agent loop").
fn numbered(segment: &str) -> (Option<i64>, String) {
    let digits: String = segment.chars().take_while(char::is_ascii_digit).collect();
    let rest = &segment[digits.len()..];
    let (order, rest) = match rest.strip_prefix(['-', '_', '.', ' ']) {
        Some(rest) if !digits.is_empty() && !rest.is_empty() => (digits.parse().ok(), rest),
        _ => (None, segment),
    };
    (order, rest.replace(['-', '_'], " ").trim().to_string())
}

/// The placement of `path`, and the front matter problems found on the way.
pub fn placement(path: &LessonPath, markdown: &str) -> (Placement, Vec<Problem>) {
    let segments: Vec<&str> = path.as_str().split('/').collect();
    let (file, folders) = segments.split_last().unwrap_or((&"", &[]));
    let named: Vec<(Option<i64>, String)> = folders.iter().map(|f| numbered(f)).collect();
    let mut problems = Vec::new();
    let order = match sidebar_position(markdown) {
        Ok(Some(position)) => Some(position),
        Ok(None) => numbered(file).0,
        Err(problem) => {
            problems.push(problem);
            numbered(file).0
        }
    };
    let placement = Placement {
        part: named.first().map(|(_, name)| name.clone()),
        chapter: named.get(1).map(|(_, name)| name.clone()),
        folder_order: named.iter().map(|(order, _)| *order).collect(),
        order,
    };
    (placement, problems)
}

/// `sidebar_position` of the front matter; a problem when the front matter is not YAML or the
/// position not a whole number.
fn sidebar_position(markdown: &str) -> Result<Option<i64>, Problem> {
    let markdown = markdown.strip_prefix('\u{feff}').unwrap_or(markdown);
    let lines: Vec<&str> = markdown.lines().collect();
    let (Some(front_matter), _) = split_front_matter(&lines) else {
        return Ok(None);
    };
    let text = front_matter.join("\n");
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        Problem::new(
            ProblemKind::FrontMatterInvalid,
            &format!("not YAML (line {line} of the front matter)"),
        )
    })?;
    if !value.is_mapping() {
        return Err(Problem::new(
            ProblemKind::FrontMatterInvalid,
            "not a mapping of keys to values",
        ));
    }
    match value.get("sidebar_position") {
        None => Ok(None),
        Some(position) => position
            .as_i64()
            .or_else(|| {
                position
                    .as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| {
                Problem::new(
                    ProblemKind::FrontMatterInvalid,
                    "sidebar_position is not a whole number",
                )
            }),
    }
}
