//! The citations of a tutor message in the REST mirror.

use poem_openapi::Object;

use crate::domain::thread::Citation;

/// A lesson section a tutor message cites.
#[derive(Debug, Object)]
pub struct CitationOut {
    /// Lesson path (as in `GET /v1/lessons/content?path=`).
    pub path: String,
    /// Lesson title.
    pub lesson_title: String,
    /// Section position in the lesson (0-based).
    pub section_index: u32,
    /// Section heading.
    pub section_title: String,
    /// Character offset in `text` where the citation stood; absent when it has no place.
    #[oai(skip_serializing_if_is_none)]
    pub index: Option<u32>,
}

impl From<&Citation> for CitationOut {
    fn from(c: &Citation) -> Self {
        Self {
            path: c.path.clone(),
            lesson_title: c.lesson_title.clone(),
            section_index: c.section_index,
            section_title: c.section_title.clone(),
            index: c.index,
        }
    }
}
