//! One lesson through the pipeline's stages: INGESTION (fetch it, conditionally, into the lesson
//! cache), QUALITY, TAXONOMY and GRAPH (its analysis), EMBEDDING (its sections into the search
//! index, with vectors when an embeddings model is configured). The lesson, its analysis and
//! its sections are written in one transaction at the end, so a failed try leaves the last
//! good sync in place.

use sha2::{Digest, Sha256};

use super::SyncService;
use crate::app::lessons::{LessonError, Refreshed};
use crate::domain::book::analyze;
use crate::domain::lesson::{LessonPath, RawLesson, parse_lesson};

use crate::domain::ports::{IndexedSection, LessonStamp, SyncedLesson};
use crate::domain::progress::{Stage, StageStatus};

/// What became of a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LessonResult {
    /// Fetched, checked, placed and indexed.
    Synced,
    /// The same version as last time: nothing downloaded, nothing written.
    Unchanged,
    /// The source no longer has it: removed from the book.
    Removed,
}

/// A stage that failed, and why (short, secret-free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StageFailure {
    pub stage: Stage,
    pub reason: String,
}

fn fail(stage: Stage, reason: impl Into<String>) -> StageFailure {
    StageFailure {
        stage,
        reason: reason.into(),
    }
}

/// SHA-256 of a lesson's text (hex), as stamps keep it.
fn content_hash(markdown: &str) -> String {
    hex::encode(Sha256::digest(markdown.as_bytes()))
}

/// What the index says when no embeddings model is configured.
pub(super) const NO_EMBEDDINGS: &str =
    "no EMBEDDINGS_MODEL configured: sections are in the full-text index only";

impl SyncService {
    async fn mark(&self, path: &LessonPath, stage: Stage, status: StageStatus, note: Option<&str>) {
        self.deps
            .progress
            .set_progress(path.as_str(), stage, status, note)
            .await;
    }

    async fn mark_all(&self, path: &LessonPath, status: StageStatus) {
        for stage in Stage::ALL {
            self.mark(path, stage, status, None).await;
        }
    }

    pub(super) async fn run_stages(
        &self,
        path: &LessonPath,
        version: Option<String>,
        run_started: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<LessonResult, StageFailure> {
        self.mark(path, Stage::Ingestion, StageStatus::Processing, None)
            .await;
        let stamp = self
            .deps
            .book
            .stamp(path)
            .await
            .map_err(|e| fail(Stage::Ingestion, format!("book store: {e}")))?;
        // A lesson written since the run started was synced by it (a try that died after writing
        // it, before its outcome was recorded; or, rarely, an overlapping run): not unchanged.
        let unchanged = match (run_started, &stamp) {
            (Some(since), Some(stamp)) if stamp.synced_at >= since => LessonResult::Synced,
            _ => LessonResult::Unchanged,
        };
        // The catalog says the file is the one synced last time: not even a request.
        if let (Some(version), Some(stamp)) = (&version, &stamp)
            && stamp.version.as_ref() == Some(version)
        {
            self.mark_all(path, StageStatus::Completed).await;
            return Ok(unchanged);
        }
        let etag = stamp.as_ref().and_then(|s| s.etag.clone());
        let mut refreshed = self.deps.lessons.refresh(path, etag).await;
        // "Not modified" is only believed when the cached copy is the text synced last time
        // (another fetch may have filled the cache since): else fetch it whole.
        if let (Ok(Refreshed::Unchanged { lesson }), Some(stamp)) = (&refreshed, &stamp)
            && content_hash(&lesson.markdown) != stamp.content_hash
        {
            refreshed = self.deps.lessons.refresh(path, None).await;
        }
        let (lesson, etag) = match refreshed {
            Ok(Refreshed::Updated { lesson, etag }) => (lesson, etag),
            Ok(Refreshed::Unchanged { lesson })
                if stamp
                    .as_ref()
                    .is_some_and(|s| s.content_hash == content_hash(&lesson.markdown)) =>
            {
                self.mark_all(path, StageStatus::Completed).await;
                return Ok(unchanged);
            }
            // Not modified, but never synced here (a new book store): index the cached copy.
            Ok(Refreshed::Unchanged { lesson }) => (lesson, None),
            Err(LessonError::NotFound) => {
                self.deps
                    .book
                    .remove(std::slice::from_ref(path))
                    .await
                    .map_err(|e| fail(Stage::Ingestion, format!("book store: {e}")))?;
                self.mark_all(path, StageStatus::Skipped).await;
                self.mark(
                    path,
                    Stage::Ingestion,
                    StageStatus::Completed,
                    Some("the source no longer has this lesson: removed from the book"),
                )
                .await;
                return Ok(LessonResult::Removed);
            }
            Err(e) => return Err(fail(Stage::Ingestion, e.to_string())),
        };
        self.mark(path, Stage::Ingestion, StageStatus::Completed, None)
            .await;
        self.index(path, lesson, version, etag).await?;
        Ok(LessonResult::Synced)
    }

    async fn index(
        &self,
        path: &LessonPath,
        lesson: RawLesson,
        version: Option<String>,
        etag: Option<String>,
    ) -> Result<(), StageFailure> {
        for stage in [Stage::Quality, Stage::Taxonomy, Stage::Graph] {
            self.mark(path, stage, StageStatus::Processing, None).await;
        }
        let analysis = analyze(path, &lesson.markdown);
        let problems = analysis.problems.len();
        let note = (problems > 0).then(|| format!("{problems} problem(s) for the author"));
        self.mark(
            path,
            Stage::Quality,
            StageStatus::Completed,
            note.as_deref(),
        )
        .await;
        self.mark(path, Stage::Taxonomy, StageStatus::Completed, None)
            .await;
        self.mark(path, Stage::Graph, StageStatus::Completed, None)
            .await;

        self.mark(path, Stage::Embedding, StageStatus::Processing, None)
            .await;
        let parsed = parse_lesson(path, &lesson.markdown);
        let mut sections: Vec<IndexedSection> = parsed
            .chunks
            .iter()
            .map(|chunk| IndexedSection {
                index: chunk.index,
                title: chunk.title.clone(),
                text: chunk.text.clone(),
                vector: None,
            })
            .collect();
        let embedded = if let Some(embedder) = &self.deps.embedder {
            let inputs: Vec<String> = sections
                .iter()
                .map(|s| format!("{}\n\n{}", s.title, s.text))
                .collect();
            let vectors = embedder
                .embed(&inputs)
                .await
                .map_err(|e| fail(Stage::Embedding, e.to_string()))?;
            if vectors.len() != sections.len() {
                return Err(fail(
                    Stage::Embedding,
                    "embeddings model answered a wrong count",
                ));
            }
            for (section, vector) in sections.iter_mut().zip(vectors) {
                section.vector = Some(vector);
            }
            true
        } else {
            false
        };
        let synced = SyncedLesson {
            stamp: LessonStamp {
                version,
                etag,
                content_hash: content_hash(&lesson.markdown),
                synced_at: chrono::Utc::now(),
            },
            analysis,
            sections,
        };
        self.deps
            .book
            .put(&synced)
            .await
            .map_err(|e| fail(Stage::Embedding, format!("book store: {e}")))?;
        if embedded {
            self.mark(path, Stage::Embedding, StageStatus::Completed, None)
                .await;
        } else {
            self.mark(
                path,
                Stage::Embedding,
                StageStatus::Skipped,
                Some(NO_EMBEDDINGS),
            )
            .await;
        }
        Ok(())
    }
}
