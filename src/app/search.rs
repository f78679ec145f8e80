//! Search of the synced book: full-text ranking, fused with vector similarity when an
//! embeddings model is configured. Serves `GET /v1/book/search` and grounds ask mode.
//!
//! Full text alone: the store's ranking (`ts_rank` / `bm25`) of the sections matching any of
//! the question's words. Hybrid: the question is embedded too (bounded by a timeout; on
//! failure the search falls back to full text and logs why), compared by cosine similarity
//! with every section's stored vector (held in memory, see `vectors`), and the two rankings
//! are fused by reciprocal rank fusion. A section found by similarity alone must be at least
//! [`SearchSettings::min_similarity`] alike, so unrelated text is never a match.

#[cfg(test)]
mod tests;
mod vectors;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::lesson::LessonPath;
use crate::domain::ports::{BookStore, Embedder, SearchHit, StoreError};
use crate::domain::search::{
    MAX_QUERY_CHARS, Passage, RRF_K, query_words, reciprocal_rank_fusion, snippet,
};
use vectors::VectorCache;

/// Most passages one search returns.
pub const MAX_RESULTS: u32 = 50;
/// Full-text hits fused with the vector ranking (and most sections that ranking holds).
const CANDIDATES: u32 = 50;

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

/// How the passages of a search were ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Full-text ranking only (no embeddings model, or it failed for this query).
    FullText,
    /// Full-text and vector rankings fused.
    Hybrid,
}

impl SearchMode {
    /// `full_text` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::FullText => "full_text",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

/// What a search found and how it ranked it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// Best first.
    pub passages: Vec<Passage>,
    /// How they were ranked.
    pub mode: SearchMode,
}

/// Tuning of the hybrid search.
#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// Longest wait for the question's embedding before searching by full text alone.
    pub embed_timeout: Duration,
    /// Least cosine similarity for a section to rank by similarity.
    pub min_similarity: f64,
    /// How often the in-memory vectors are checked against the index's version.
    pub vectors_check: Duration,
    /// Longest the in-memory vectors are used before they are read again regardless.
    pub vectors_ttl: Duration,
    /// Most section vectors held in memory.
    pub max_vectors: u32,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            embed_timeout: Duration::from_secs(3),
            min_similarity: 0.3,
            vectors_check: Duration::from_secs(5),
            vectors_ttl: Duration::from_secs(600),
            max_vectors: 50_000,
        }
    }
}

/// The book search use case.
pub struct SearchService {
    book: Arc<dyn BookStore>,
    embedder: Option<Arc<dyn Embedder>>,
    settings: SearchSettings,
    vectors: VectorCache,
}

type Key = (LessonPath, u32);

impl SearchService {
    /// Search over `book`, hybrid when `embedder` is set.
    pub fn new(book: Arc<dyn BookStore>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            book,
            embedder,
            settings: SearchSettings::default(),
            vectors: VectorCache::default(),
        }
    }

    /// The same search with other tuning.
    pub fn with_settings(mut self, settings: SearchSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Whether an embeddings model is configured (searches try hybrid ranking).
    pub fn is_hybrid(&self) -> bool {
        self.embedder.is_some()
    }

    /// The passages best matching `query`, at most `limit`, best first. A query without
    /// words finds nothing; only passages that match the query are returned.
    ///
    /// # Errors
    /// [`SearchError::Unavailable`] when the index cannot be read.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<Passage>, SearchError> {
        Ok(self.search_ranked(query, limit).await?.passages)
    }

    /// Like [`SearchService::search`], with how the passages were ranked. `limit` is clamped
    /// to 1..=[`MAX_RESULTS`].
    ///
    /// # Errors
    /// [`SearchError::Unavailable`] when the index cannot be read.
    pub async fn search_ranked(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<SearchResults, SearchError> {
        let words = query_words(query);
        let limit = limit.clamp(1, MAX_RESULTS);
        let full_text = SearchResults {
            passages: Vec::new(),
            mode: SearchMode::FullText,
        };
        if words.is_empty() {
            return Ok(full_text);
        }
        let Some(embedder) = &self.embedder else {
            let hits = self.book.search(query, limit).await?;
            return Ok(SearchResults {
                passages: passages(hits, &words),
                ..full_text
            });
        };
        let (hits, similar) = tokio::join!(
            self.book.search(query, CANDIDATES.max(limit)),
            self.similar(embedder.as_ref(), query),
        );
        let hits = hits?;
        let Some(similar) = similar? else {
            let hits = hits.into_iter().take(limit as usize).collect();
            return Ok(SearchResults {
                passages: passages(hits, &words),
                ..full_text
            });
        };
        let text_keys: Vec<Key> = hits.iter().map(|h| (h.path.clone(), h.index)).collect();
        let fused: Vec<(Key, f64)> = reciprocal_rank_fusion(&[&text_keys, &similar], RRF_K)
            .into_iter()
            .take(limit as usize)
            .collect();
        let mut by_key: HashMap<Key, SearchHit> = hits
            .into_iter()
            .map(|h| ((h.path.clone(), h.index), h))
            .collect();
        let missing: Vec<Key> = fused
            .iter()
            .filter(|(k, _)| !by_key.contains_key(k))
            .map(|(k, _)| k.clone())
            .collect();
        for hit in self.book.sections(&missing).await? {
            by_key.insert((hit.path.clone(), hit.index), hit);
        }
        let ranked = fused
            .into_iter()
            .filter_map(|(key, score)| by_key.remove(&key).map(|hit| SearchHit { score, ..hit }))
            .collect();
        Ok(SearchResults {
            passages: passages(ranked, &words),
            mode: SearchMode::Hybrid,
        })
    }

    /// The sections most similar to `query` (at least `min_similarity`), best first; `None`
    /// when the question could not be embedded (logged).
    async fn similar(
        &self,
        embedder: &dyn Embedder,
        query: &str,
    ) -> Result<Option<Vec<Key>>, SearchError> {
        let input = embedding_input(query);
        let embedded =
            tokio::time::timeout(self.settings.embed_timeout, embedder.embed(&[input])).await;
        let vector = match embedded {
            Ok(Ok(mut vectors)) if vectors.len() == 1 => vectors.swap_remove(0),
            Ok(Ok(vectors)) => {
                tracing::warn!(
                    model = embedder.model(),
                    count = vectors.len(),
                    "search: the embeddings model answered a wrong count; full text only"
                );
                return Ok(None);
            }
            Ok(Err(e)) => {
                tracing::warn!(model = embedder.model(), error = %e, "search: question not embedded; full text only");
                return Ok(None);
            }
            Err(_) => {
                tracing::warn!(
                    model = embedder.model(),
                    timeout_ms = self.settings.embed_timeout.as_millis() as u64,
                    "search: embedding the question timed out; full text only"
                );
                return Ok(None);
            }
        };
        let index = self.vectors.get(self.book.as_ref(), &self.settings).await?;
        Ok(Some(index.nearest(
            &vector,
            self.settings.min_similarity,
            CANDIDATES as usize,
        )))
    }
}

/// What is embedded for a question: its first [`MAX_QUERY_CHARS`] characters, control
/// characters and runs of whitespace made single spaces.
fn embedding_input(query: &str) -> String {
    let bounded: String = query
        .chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    bounded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The passages of `hits`, each with its snippet for `words`.
fn passages(hits: Vec<SearchHit>, words: &[String]) -> Vec<Passage> {
    hits.into_iter()
        .map(|hit| Passage {
            snippet: snippet(&hit.text, words),
            path: hit.path,
            lesson_title: hit.lesson_title,
            section_index: hit.index,
            section_title: hit.title,
            text: hit.text,
            score: hit.score,
        })
        .collect()
}
