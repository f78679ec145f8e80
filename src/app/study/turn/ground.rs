//! Grounding an ask-mode answer in the book: the open lesson's matching sections (from the
//! lesson just loaded) and the best passages of other lessons (from the book's search index),
//! numbered as sources under the prompt's character budget.

use std::time::Duration;

use super::TurnJob;
use crate::app::study::StudyService;
use crate::domain::grounding::{LessonSection, MAX_SOURCES, select_sources};
use crate::domain::tutor::SourcePassage;

/// Longest a search of the book may take before the answer goes on with the open lesson alone.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Characters of the highlighted text that join the question as search words.
const SELECTED_QUERY_CHARS: usize = 300;

impl StudyService {
    /// The sources of an ask turn; empty when nothing in the lesson or the book matches.
    #[tracing::instrument(name = "retrieval", skip_all)]
    pub(super) async fn ground(&self, job: &TurnJob) -> Vec<SourcePassage> {
        let mut query = job.user_item.kind.text();
        if let Some(selected) = &job.ctx.selected_text {
            query.push(' ');
            query.extend(selected.chars().take(SELECTED_QUERY_CHARS));
        }
        let book = match &self.search {
            None => Vec::new(),
            Some(search) => {
                // Twice the sources: the open lesson's own hits are skipped.
                let limit = u32::try_from(MAX_SOURCES * 2).unwrap_or(u32::MAX);
                match tokio::time::timeout(SEARCH_TIMEOUT, search.search(&query, limit)).await {
                    Ok(Ok(found)) => found,
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "book search failed; answering from the open lesson");
                        Vec::new()
                    }
                    Err(_) => {
                        tracing::warn!("book search timed out; answering from the open lesson");
                        Vec::new()
                    }
                }
            }
        };
        let lesson = &job.lesson;
        let sections: Vec<LessonSection<'_>> = lesson
            .chunks
            .iter()
            .enumerate()
            .map(|(i, c)| LessonSection {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                title: &c.title,
                text: &c.text,
            })
            .collect();
        select_sources(
            &query,
            &lesson.path,
            &lesson.title,
            &sections,
            &book,
            self.settings.lesson_excerpt_chars,
        )
    }
}
