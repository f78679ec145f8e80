//! Purges: of some lessons or of everything, in every tier and (over the bus) every replica,
//! keeping purged copies as stale; a purge of everything at most once per interval.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::{LessonService, ParsedLesson};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::Invalidation;

/// Why a purge did not happen (or not everywhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurgeError {
    /// Everything was purged moments ago; a purge of everything runs at most once per
    /// interval.
    #[error("purge of everything throttled")]
    Throttled {
        /// When a purge of everything is accepted again.
        retry_after: Duration,
    },
    /// The shared tier could not be reached (this replica's copies were purged).
    #[error("shared lesson cache unavailable")]
    Unavailable,
}

impl LessonService {
    /// Starts applying purges announced by other replicas to this replica's L1, waiting (at most
    /// `wait`) until the subscription is confirmed so that no purge announced after start-up is
    /// missed.
    pub async fn start_invalidation_listener(self: &Arc<Self>, wait: Duration) {
        let Some(bus) = self.bus.clone() else { return };
        let service = Arc::clone(self);
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut purges = bus.subscribe().await;
            let _ = ready.send(());
            while let Some(purge) = purges.next().await {
                tracing::debug!(?purge, "purge announcement received");
                let paths = match purge {
                    Invalidation::All => Vec::new(),
                    Invalidation::Paths(paths) => paths,
                };
                service.purge_local(&paths).await;
            }
        });
        if tokio::time::timeout(wait, subscribed).await.is_err() {
            tracing::warn!("purge subscription not confirmed yet; it starts once Redis answers");
        }
    }

    /// Purges the given lessons (or all when empty) in every tier and every replica; returns
    /// how many paths were purged (for "all", what the shared tier reports).
    ///
    /// Purged copies are kept as stale: the next read fetches again, and serves the old copy
    /// (marked stale) when the source fails, so a purge during an outage loses nothing.
    ///
    /// # Errors
    /// [`PurgeError::Throttled`] for a purge of everything within `purge_all_interval` of the
    /// last one (nothing is purged); [`PurgeError::Unavailable`] when the shared tier cannot
    /// be reached (the local tier is purged anyway).
    pub async fn invalidate(&self, paths: &[LessonPath]) -> Result<u64, PurgeError> {
        if paths.is_empty() {
            self.admit_purge_all(Instant::now())?;
        }
        let local = self.purge_local(paths).await;
        let (Some(l2), Some(bus)) = (&self.l2, &self.bus) else {
            return Ok(local);
        };
        let shared = l2.invalidate(paths).await.map_err(|e| {
            tracing::error!(error = %e, "purging the shared lesson cache failed");
            PurgeError::Unavailable
        })?;
        let announcement = if paths.is_empty() {
            Invalidation::All
        } else {
            Invalidation::Paths(paths.to_vec())
        };
        if let Err(e) = bus.publish(&announcement).await {
            tracing::warn!(error = %e, "announcing a lesson purge failed; other replicas catch up within LESSON_L1_TTL_SECS");
        }
        tracing::info!(paths = paths.len(), purged = shared, "lesson cache purged");
        Ok(shared.max(local))
    }

    /// Lets one purge of everything through per `purge_all_interval`.
    fn admit_purge_all(&self, now: Instant) -> Result<(), PurgeError> {
        let mut last = self
            .last_purge_all
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = *last {
            let next = at + self.settings.purge_all_interval;
            if now < next {
                return Err(PurgeError::Throttled {
                    retry_after: next - now,
                });
            }
        }
        *last = Some(now);
        Ok(())
    }

    async fn purge_local(&self, paths: &[LessonPath]) -> u64 {
        if paths.is_empty() {
            self.parsed.invalidate_all();
        } else {
            for p in paths {
                self.parsed.invalidate_entries_if_path(p.as_str());
            }
        }
        self.l1.invalidate(paths).await.unwrap_or(0)
    }
}

trait PathEntries {
    fn invalidate_entries_if_path(&self, path: &str);
}

impl PathEntries for moka::sync::Cache<(String, i64), Arc<ParsedLesson>> {
    fn invalidate_entries_if_path(&self, path: &str) {
        let path = path.to_string();
        // Parsed copies are keyed by (path, fetched_at); drop every version of this path.
        let _ = self.invalidate_entries_if(move |(p, _), _| *p == path);
    }
}
