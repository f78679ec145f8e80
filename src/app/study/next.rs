//! The lesson the tutor suggests when one is finished, from the synced book.

use std::sync::Arc;
use std::time::Duration;

use super::StudyService;
use crate::domain::learning::next_lesson;
use crate::domain::lesson::LessonPath;
use crate::domain::ports::BookStore;
use crate::domain::tutor::NextLesson;

/// Longest the book's graph is waited for; past it the lesson ends without a suggestion.
const BOOK_READ_LIMIT: Duration = Duration::from_secs(2);

impl StudyService {
    /// Suggests the next lesson of the synced `book` when a lesson is finished.
    pub fn with_book_graph(mut self, book: Arc<dyn BookStore>) -> Self {
        self.book = Some(book);
        self
    }

    /// The lesson to suggest after `finished`; `None` without a book, when the book is empty
    /// or cannot be read in time, or when `finished` is its last lesson.
    pub(super) async fn next_lesson(&self, finished: &LessonPath) -> Option<NextLesson> {
        let book = self.book.as_ref()?;
        match tokio::time::timeout(BOOK_READ_LIMIT, book.analyses()).await {
            Ok(Ok(analyses)) => next_lesson(finished, analyses),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the book could not be read; no next lesson suggested");
                None
            }
            Err(_) => {
                tracing::warn!("reading the book timed out; no next lesson suggested");
                None
            }
        }
    }
}
