//! Wire shapes of the book sync endpoints.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, Object};

use crate::app::sync::StageCounts;
use crate::domain::book::Book;
use crate::domain::progress::ResourceProgress;
use crate::domain::sync::RunReport;

/// What to sync.
#[derive(Debug, Clone, Object)]
pub struct SyncIn {
    /// Lesson paths to sync (at most 500); omitted or empty syncs the whole book.
    #[oai(validator(max_items = 500))]
    pub paths: Option<Vec<String>>,
}

/// A queued sync.
#[derive(Debug, Clone, Object)]
pub struct SyncQueuedOut {
    /// The job id: follow it at `GET /v1/jobs/{id}` or `GET /v1/jobs/{id}/events`.
    pub job_id: String,
    /// `queued`.
    pub status: String,
    /// Where the job's status is.
    pub status_url: String,
    /// Where its live progress streams.
    pub events_url: String,
}

/// `POST /admin/book/sync` answers.
#[derive(ApiResponse)]
pub enum SyncResponse {
    /// Queued; a worker takes it.
    #[oai(status = 202)]
    Queued(Json<SyncQueuedOut>),
}

/// One lesson whose last try failed.
#[derive(Debug, Clone, Object)]
pub struct JobFailureOut {
    /// The lesson.
    pub path: String,
    /// `retrying` (tries left) or `dead` (every try failed; `jobs retry` puts it back).
    pub outcome: String,
    /// Tries so far.
    pub attempts: u32,
    /// The stage that failed and why.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// A sync job.
#[derive(Debug, Clone, Object)]
pub struct JobOut {
    /// Its id.
    pub id: String,
    /// `queued` (lessons not listed yet), `running`, `completed`, or `failed` (some lesson is
    /// dead, or listing failed for good).
    pub status: String,
    /// `book` (the whole book) or `paths`.
    pub scope: String,
    /// The lessons asked for, for a `paths` sync.
    pub paths: Vec<String>,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its lessons were listed (work started).
    #[oai(skip_serializing_if_is_none)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[oai(skip_serializing_if_is_none)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Lessons in the job.
    pub lessons_total: u32,
    /// Lessons per outcome: `queued`, `running`, `synced`, `unchanged`, `removed`,
    /// `retrying`, `dead`.
    pub counts: BTreeMap<String, u32>,
    /// Per stage (`ingestion`, `quality`, `taxonomy`, `graph`, `embedding`), lessons per
    /// status (`PENDING`, `PROCESSING`, `COMPLETED`, `FAILED`, `SKIPPED`). Read from the
    /// progress tracker: while it cannot be reached every stage reads `PENDING`.
    pub stages: BTreeMap<String, BTreeMap<String, u32>>,
    /// Lessons whose last try failed (at most 100).
    pub failures: Vec<JobFailureOut>,
    /// Why listing the book failed for good, when it did.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

impl JobOut {
    /// The wire form of a run and its stage counts.
    pub fn new(report: &RunReport, stages: &StageCounts) -> Self {
        let (scope, paths) = match &report.run.scope {
            crate::domain::sync::SyncScope::Book => ("book", Vec::new()),
            crate::domain::sync::SyncScope::Paths(paths) => (
                "paths",
                paths.iter().map(|p| p.as_str().to_string()).collect(),
            ),
        };
        Self {
            id: report.run.id.to_string(),
            status: report.status().as_str().to_string(),
            scope: scope.to_string(),
            paths,
            requested_by: report.run.requested_by.clone(),
            created_at: report.run.created_at,
            started_at: report.run.listed_at,
            finished_at: report.finished_at(),
            lessons_total: u32::try_from(report.lessons.len()).unwrap_or(u32::MAX),
            counts: report
                .counts()
                .into_iter()
                .map(|(o, n)| (o.as_str().to_string(), n))
                .collect(),
            stages: stages
                .iter()
                .map(|(stage, by)| {
                    (
                        stage.as_str().to_string(),
                        by.iter()
                            .map(|(s, n)| (s.as_str().to_string(), *n))
                            .collect(),
                    )
                })
                .collect(),
            failures: report
                .failures()
                .take(100)
                .map(|l| JobFailureOut {
                    path: l.path.as_str().to_string(),
                    outcome: l.outcome.as_str().to_string(),
                    attempts: l.attempts,
                    error: l.error.clone(),
                })
                .collect(),
            error: report.run.error.clone(),
        }
    }
}

/// `GET /v1/jobs/{id}` answers.
#[derive(ApiResponse)]
pub enum JobResponse {
    /// The job.
    #[oai(status = 200)]
    Ok(Json<JobOut>),
}

/// `GET /v1/jobs/{id}/events` answers.
#[derive(ApiResponse)]
pub enum JobEventsResponse {
    /// Server-sent events: a `progress` event (the job, as `GET /v1/jobs/{id}` answers it)
    /// whenever it changes, the last one when the job ends; then the stream closes.
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, JobOut>>),
}

/// One stage of a lesson.
#[derive(Debug, Clone, Object)]
pub struct StageOut {
    /// `PENDING`, `PROCESSING`, `COMPLETED`, `FAILED` or `SKIPPED`.
    pub status: String,
    /// Why it failed or was skipped, or a note (e.g. quality problems found).
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    /// When it was last set.
    #[oai(skip_serializing_if_is_none)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One lesson's progress through the sync's stages.
#[derive(Debug, Clone, Object)]
pub struct LessonProgressOut {
    /// The lesson path.
    pub resource_id: String,
    /// Computed from the stages: any failed → `FAILED`; all completed or skipped →
    /// `COMPLETED`; some under way or done → `PROCESSING`; else `PENDING`.
    pub overall_status: String,
    /// Per stage, in pipeline order: `ingestion`, `quality`, `taxonomy`, `graph`,
    /// `embedding`.
    pub stages: BTreeMap<String, StageOut>,
    /// When a stage was last set.
    #[oai(skip_serializing_if_is_none)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&ResourceProgress> for LessonProgressOut {
    fn from(p: &ResourceProgress) -> Self {
        Self {
            resource_id: p.resource_id().to_string(),
            overall_status: p.overall().as_str().to_string(),
            stages: p
                .stages()
                .iter()
                .map(|(stage, at)| {
                    (
                        stage.as_str().to_string(),
                        StageOut {
                            status: at.status.as_str().to_string(),
                            error: at.error.clone(),
                            updated_at: at.updated_at,
                        },
                    )
                })
                .collect(),
            updated_at: p.updated_at(),
        }
    }
}

/// `GET /v1/lessons/progress` answers.
#[derive(ApiResponse)]
pub enum LessonProgressResponse {
    /// The lesson's stages (every stage `PENDING` for a lesson never synced or expired).
    #[oai(status = 200)]
    Ok(Json<LessonProgressOut>),
}

/// A lesson in the table of contents.
#[derive(Debug, Clone, Object)]
pub struct TocLessonOut {
    /// Path.
    pub path: String,
    /// Title.
    pub title: String,
    /// The lesson before it in reading order.
    #[oai(skip_serializing_if_is_none)]
    pub previous: Option<String>,
    /// The lesson after it.
    #[oai(skip_serializing_if_is_none)]
    pub next: Option<String>,
    /// Lessons that link to it.
    pub linked_from: Vec<String>,
}

/// A chapter.
#[derive(Debug, Clone, Object)]
pub struct TocChapterOut {
    /// Name (from its folder, without the number); empty for lessons directly in a part.
    pub name: String,
    /// Lessons in reading order.
    pub lessons: Vec<TocLessonOut>,
}

/// A part.
#[derive(Debug, Clone, Object)]
pub struct TocPartOut {
    /// Name (from its folder, without the number); empty for lessons at the book's root.
    pub name: String,
    /// Chapters in order.
    pub chapters: Vec<TocChapterOut>,
}

/// The table of contents of the synced book.
#[derive(Debug, Clone, Object)]
pub struct TocOut {
    /// Parts in order.
    pub parts: Vec<TocPartOut>,
    /// Lessons in the book.
    pub lessons_total: u32,
}

impl From<&Book> for TocOut {
    fn from(book: &Book) -> Self {
        let path = |p: &crate::domain::lesson::LessonPath| p.as_str().to_string();
        let mut total = 0u32;
        let parts = book
            .parts
            .iter()
            .map(|part| TocPartOut {
                name: part.name.clone(),
                chapters: part
                    .chapters
                    .iter()
                    .map(|chapter| TocChapterOut {
                        name: chapter.name.clone(),
                        lessons: chapter
                            .lessons
                            .iter()
                            .map(|l| {
                                total += 1;
                                TocLessonOut {
                                    path: path(&l.path),
                                    title: l.title.clone(),
                                    previous: l.previous.as_ref().map(path),
                                    next: l.next.as_ref().map(path),
                                    linked_from: l.linked_from.iter().map(path).collect(),
                                }
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        Self {
            parts,
            lessons_total: total,
        }
    }
}

/// `GET /v1/book/toc` answers.
#[derive(ApiResponse)]
pub enum TocResponse {
    /// The table of contents (empty until a sync ran).
    #[oai(status = 200)]
    Ok(Json<TocOut>),
}

/// One problem.
#[derive(Debug, Clone, Object)]
pub struct ProblemOut {
    /// `missing_title`, `empty_title`, `no_sections`, `section_too_short`,
    /// `section_too_long`, `broken_link`, `image_without_alt` or `front_matter_invalid`.
    pub kind: String,
    /// Where or what (a heading, a link target, an image source).
    pub detail: String,
}

/// One lesson's problems.
#[derive(Debug, Clone, Object)]
pub struct LessonProblemsOut {
    /// The lesson.
    pub path: String,
    /// What its author should fix.
    pub problems: Vec<ProblemOut>,
}

/// The quality report of the synced book.
#[derive(Debug, Clone, Object)]
pub struct QualityOut {
    /// Lessons with problems, in reading order.
    pub lessons: Vec<LessonProblemsOut>,
    /// Problems in all.
    pub problems_total: u32,
}

impl From<&Book> for QualityOut {
    fn from(book: &Book) -> Self {
        let lessons: Vec<LessonProblemsOut> = book
            .report
            .iter()
            .map(|(path, problems)| LessonProblemsOut {
                path: path.as_str().to_string(),
                problems: problems
                    .iter()
                    .map(|p| ProblemOut {
                        kind: p.kind.as_str().to_string(),
                        detail: p.detail.clone(),
                    })
                    .collect(),
            })
            .collect();
        let total = lessons.iter().map(|l| l.problems.len()).sum::<usize>();
        Self {
            lessons,
            problems_total: u32::try_from(total).unwrap_or(u32::MAX),
        }
    }
}

/// `GET /v1/book/quality` answers.
#[derive(ApiResponse)]
pub enum QualityResponse {
    /// The report (empty until a sync ran).
    #[oai(status = 200)]
    Ok(Json<QualityOut>),
}

/// What a retry put back.
#[derive(Debug, Clone, Object)]
pub struct RetryOut {
    /// The job.
    pub job_id: String,
    /// Dead tasks put back on the queue (0 when none was dead).
    pub retried: u64,
}

/// `POST /admin/jobs/{id}/retry` answers.
#[derive(ApiResponse)]
pub enum RetryResponse {
    /// Done.
    #[oai(status = 200)]
    Ok(Json<RetryOut>),
}
