//! Citations of a tutor message on the wire: a ChatKit `Annotation` whose source is an
//! `entity` naming the cited lesson section.

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::thread::Citation;

/// A citation in a tutor message (`Annotation`): the lesson section it cites, and where in the
/// text it stands (`index`, in characters; absent: listed without an inline anchor).
#[derive(Debug, Serialize, Clone, JsonSchema)]
#[schemars(rename = "Annotation")]
pub struct Annotation {
    /// Always `annotation`.
    #[serde(rename = "type")]
    pub kind: AnnotationType,
    /// The cited lesson section.
    pub source: LessonSource,
    /// Character offset in the text where the inline citation goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// The `type` of an [`Annotation`].
#[derive(Debug, Serialize, Clone, Copy, JsonSchema)]
#[schemars(rename = "AnnotationType")]
pub enum AnnotationType {
    /// The only kind.
    #[serde(rename = "annotation")]
    Annotation,
}

/// A lesson section as an `entity` source: the panel links it to the lesson (`data.path`,
/// `data.section_index`). Key order: `title, description, group, type, id, label,
/// interactive, data`.
#[derive(Debug, Serialize, Clone, JsonSchema)]
#[schemars(rename = "EntitySource")]
pub struct LessonSource {
    /// Section heading.
    pub title: String,
    /// Lesson title.
    pub description: String,
    /// Lesson title: citations of one lesson group together.
    pub group: String,
    /// Always `entity`.
    #[serde(rename = "type")]
    pub kind: EntitySourceType,
    /// `lesson:{path}#{section_index}`.
    pub id: String,
    /// Lesson title.
    pub label: String,
    /// Always true: the panel may open the lesson.
    pub interactive: bool,
    /// Where the section is.
    pub data: LessonRef,
}

/// The `type` of a [`LessonSource`].
#[derive(Debug, Serialize, Clone, Copy, JsonSchema)]
#[schemars(rename = "EntitySourceType")]
pub enum EntitySourceType {
    /// An entity.
    #[serde(rename = "entity")]
    Entity,
}

/// `data` of a [`LessonSource`].
#[derive(Debug, Serialize, Clone, JsonSchema)]
#[schemars(rename = "LessonRef")]
pub struct LessonRef {
    /// Lesson path (as in `GET /v1/lessons/content?path=`).
    pub path: String,
    /// Section position in the lesson (0-based).
    pub section_index: u32,
}

impl Annotation {
    /// The annotation of a stored citation.
    pub fn of(c: &Citation) -> Self {
        Self {
            kind: AnnotationType::Annotation,
            source: LessonSource {
                title: c.section_title.clone(),
                description: c.lesson_title.clone(),
                group: c.lesson_title.clone(),
                kind: EntitySourceType::Entity,
                id: format!("lesson:{}#{}", c.path, c.section_index),
                label: c.lesson_title.clone(),
                interactive: true,
                data: LessonRef {
                    path: c.path.clone(),
                    section_index: c.section_index,
                },
            },
            index: c.index,
        }
    }
}
