//! The sections' vectors held in memory, so a hybrid search compares the question with every
//! section without reading them all per query. They are read again when the index's version
//! changed (checked at most every `vectors_check`) or after `vectors_ttl` regardless; one
//! search reads them while the others wait for it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;

use super::{Key, SearchError, SearchSettings};
use crate::domain::ports::{BookStore, IndexVersion, SectionVector};
use crate::domain::search::cosine;

/// The vectors as last read.
pub(super) struct VectorIndex {
    entries: Vec<SectionVector>,
}

impl VectorIndex {
    /// The sections at least `min` alike to `query` by cosine similarity, most alike first,
    /// at most `max`; ties by path and position.
    pub(super) fn nearest(&self, query: &[f32], min: f64, max: usize) -> Vec<Key> {
        let mut scored: Vec<(f64, &SectionVector)> = self
            .entries
            .iter()
            .filter_map(|s| cosine(query, &s.vector).map(|sim| (sim, s)))
            .filter(|(sim, _)| *sim >= min)
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.path.as_str().cmp(b.1.path.as_str()))
                .then_with(|| a.1.index.cmp(&b.1.index))
        });
        scored
            .into_iter()
            .take(max)
            .map(|(_, s)| (s.path.clone(), s.index))
            .collect()
    }
}

struct Cached {
    index: Arc<VectorIndex>,
    version: IndexVersion,
    loaded: Instant,
    checked: Instant,
}

/// The cache of [`VectorIndex`].
#[derive(Default)]
pub(super) struct VectorCache {
    cached: Mutex<Option<Cached>>,
}

impl VectorCache {
    /// The vectors, read from `book` when none are held, the index changed or they are older
    /// than the TTL.
    pub(super) async fn get(
        &self,
        book: &dyn BookStore,
        settings: &SearchSettings,
    ) -> Result<Arc<VectorIndex>, SearchError> {
        let mut cached = self.cached.lock().await;
        let mut known = None;
        if let Some(c) = cached.as_mut()
            && c.loaded.elapsed() < settings.vectors_ttl
        {
            if c.checked.elapsed() < settings.vectors_check {
                return Ok(c.index.clone());
            }
            let version = book.version().await?;
            if version == c.version {
                c.checked = Instant::now();
                return Ok(c.index.clone());
            }
            known = Some(version);
        }
        // Read before the vectors: a sync in between makes the next check read them again.
        let version = match known {
            Some(version) => version,
            None => book.version().await?,
        };
        let entries = book.vectors(settings.max_vectors).await?;
        if entries.len() >= settings.max_vectors as usize {
            tracing::warn!(
                held = entries.len(),
                "search: more section vectors than held in memory; the rest rank by full text only"
            );
        }
        let index = Arc::new(VectorIndex { entries });
        let now = Instant::now();
        *cached = Some(Cached {
            index: index.clone(),
            version,
            loaded: now,
            checked: now,
        });
        Ok(index)
    }
}
