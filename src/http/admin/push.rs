//! GitHub push webhooks: the signature check and the lessons a push touched.

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use hmac::{Hmac, KeyInit, Mac};
use poem_openapi::Object;
use serde::Deserialize;
use sha2::Sha256;

use crate::domain::lesson::LessonPath;

/// The parts of a GitHub `push` event this service reads; everything else is ignored.
#[derive(Debug, Default, Object, Deserialize)]
pub struct PushEventIn {
    /// The pushed ref, `refs/heads/<branch>`.
    #[oai(rename = "ref")]
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    /// The repository pushed to.
    pub repository: Option<PushRepository>,
    /// The pushed commits with the files each added, modified and removed.
    #[oai(default)]
    #[serde(default)]
    pub commits: Vec<PushCommit>,
    /// The newest commit (also listed in `commits` when GitHub did not truncate them).
    pub head_commit: Option<PushCommit>,
}

/// The repository of a push.
#[derive(Debug, Default, Object, Deserialize)]
pub struct PushRepository {
    /// `owner/name`.
    #[serde(default)]
    pub full_name: String,
}

/// Files one commit touched, relative to the repository root.
#[derive(Debug, Default, Object, Deserialize)]
pub struct PushCommit {
    /// Files the commit added.
    #[oai(default)]
    #[serde(default)]
    pub added: Vec<String>,
    /// Files the commit changed.
    #[oai(default)]
    #[serde(default)]
    pub modified: Vec<String>,
    /// Files the commit deleted.
    #[oai(default)]
    #[serde(default)]
    pub removed: Vec<String>,
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`; the final
/// comparison is constant-time so the signature cannot be guessed byte by byte.
pub fn signature_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_signature) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(signature) = hex::decode(hex_signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Longest `X-GitHub-Delivery` logged (GitHub sends a 36-character GUID).
const MAX_DELIVERY_ID: usize = 64;

/// The delivery id to log: the header when it is at most 64 of `[A-Za-z0-9-]`, `-` when absent,
/// `invalid` otherwise (never the client's text).
pub fn delivery_id(header: Option<&str>) -> &str {
    match header {
        None => "-",
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_DELIVERY_ID
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            id
        }
        Some(_) => "invalid",
    }
}

/// Whether the push went to `branch` of `repo` (GitHub compares repository names without
/// regard to case).
pub fn targets(event: &PushEventIn, repo: &str, branch: &str) -> bool {
    let same_repo = event
        .repository
        .as_ref()
        .is_some_and(|r| r.full_name.eq_ignore_ascii_case(repo));
    same_repo && event.git_ref.strip_prefix("refs/heads/") == Some(branch)
}

/// Every lesson a push added, changed or removed, in first-seen order, without duplicates.
pub fn touched_lessons(event: &PushEventIn, docs_prefix: &str) -> Vec<LessonPath> {
    let mut seen = HashSet::new();
    event
        .commits
        .iter()
        .chain(event.head_commit.as_ref())
        .flat_map(|c| c.added.iter().chain(&c.modified).chain(&c.removed))
        .filter_map(|file| lesson_of_file(file, docs_prefix))
        .filter(|path| seen.insert(path.clone()))
        .collect()
}

/// Whether a push added or removed a lesson (the book's tree changed, so the whole book is
/// listed again).
pub fn tree_changed(event: &PushEventIn, docs_prefix: &str) -> bool {
    event
        .commits
        .iter()
        .chain(event.head_commit.as_ref())
        .flat_map(|c| c.added.iter().chain(&c.removed))
        .any(|file| lesson_of_file(file, docs_prefix).is_some())
}

/// The lesson a repository file is: under `{docs_prefix}/`, `.md` or `.mdx`, extension
/// removed, and `…/index` or `…/README` standing for their folder.
pub fn lesson_of_file(file: &str, docs_prefix: &str) -> Option<LessonPath> {
    let prefix = docs_prefix.trim_matches('/');
    let relative = if prefix.is_empty() {
        file
    } else {
        file.strip_prefix(prefix)?.strip_prefix('/')?
    };
    let stem = relative
        .strip_suffix(".mdx")
        .or_else(|| relative.strip_suffix(".md"))?;
    let lesson = ["/index", "/README"]
        .iter()
        .find_map(|folder_page| stem.strip_suffix(folder_page))
        .unwrap_or(stem);
    if matches!(lesson, "index" | "README") {
        // The docs root's own page is no lesson.
        return None;
    }
    LessonPath::parse(lesson).ok()
}
