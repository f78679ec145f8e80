//! Refreshes for the book sync: a lesson fetched again — conditionally when a copy is cached,
//! so an unchanged lesson costs no download — and stored fresh in every tier. Unlike
//! [`LessonService::load`] there is no per-user budget and no stale fallback: the sync worker
//! is told of every failure.

use std::sync::{Mutex, PoisonError};

use super::{Fetched, LessonError, LessonService};
use crate::domain::lesson::{CachedLesson, LessonPath, RawLesson};
use crate::domain::ports::{CacheLookup, Conditional, Invalidation};

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The lesson was downloaded (it changed, or nothing cached could be confirmed): its text,
    /// and the source's validator for the next refresh when it gave one.
    Updated {
        /// The lesson as the source has it now.
        lesson: RawLesson,
        /// The validator to send next time (`None` when the source gave none, or when this
        /// refresh shared a student's fetch that carried none).
        etag: Option<String>,
    },
    /// The source confirmed the cached copy (nothing was downloaded); the copy is fresh again.
    Unchanged {
        /// The cached lesson.
        lesson: RawLesson,
    },
}

/// What this caller's own run of the flight learned beyond the copy.
enum Ran {
    Modified { etag: Option<String> },
    NotModified,
}

impl LessonService {
    /// Fetches `path` again for the book sync, sending `etag` when a copy is cached (stale
    /// copies count; without a copy the fetch is unconditional), and stores the answer fresh
    /// in L2 and L1. When the text changed, every replica's in-process copy is dropped (the
    /// shared copy stays fresh). Shares a fetch already under way for the path.
    ///
    /// `Unchanged` hands back the cached copy: if the cache was filled by something other than
    /// the fetch that gave `etag`, the caller may compare the text with what it synced and
    /// refresh again without a validator when they differ.
    ///
    /// # Errors
    /// [`LessonError::NotFound`] when the source says so (remembered in both tiers);
    /// [`LessonError::Unavailable`] when it fails and [`LessonError::SourceBackingOff`] while
    /// it is left alone — whatever is cached.
    pub async fn refresh(
        &self,
        path: &LessonPath,
        etag: Option<String>,
    ) -> Result<Refreshed, LessonError> {
        let old = self.current_copy(path).await;
        // A 304 confirms a copy; with none cached there would be nothing to serve.
        let etag = old.as_ref().and(etag);
        let ran = Mutex::new(None);
        let fresh = self
            .flights
            .run(path.as_str().to_owned(), || {
                self.revalidate(path, old.as_ref(), etag, &ran)
            })
            .await?;
        let changed = old
            .as_ref()
            .is_none_or(|old| old.lesson.markdown != fresh.lesson.markdown);
        let refreshed = match ran.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(Ran::NotModified) => Refreshed::Unchanged {
                lesson: fresh.lesson,
            },
            Some(Ran::Modified { etag }) => Refreshed::Updated {
                lesson: fresh.lesson,
                etag,
            },
            // Another caller's fetch (a student's load) answered: it carried no validator.
            None if !changed => Refreshed::Unchanged {
                lesson: fresh.lesson,
            },
            None => Refreshed::Updated {
                lesson: fresh.lesson,
                etag: None,
            },
        };
        if changed && matches!(refreshed, Refreshed::Updated { .. }) {
            self.announce_changed(path).await;
        }
        Ok(refreshed)
    }

    /// The copy a refresh can confirm: L2's when it has one, else L1's (also while L2 is
    /// down); stale copies count.
    async fn current_copy(&self, path: &LessonPath) -> Option<CachedLesson> {
        if let Some(l2) = &self.l2
            && let Some(CacheLookup::Hit(copy)) = self.l2_lookup(l2, path).await
        {
            return Some(copy);
        }
        match self.l1.get(path).await {
            Ok(CacheLookup::Hit(copy)) => Some(copy),
            _ => None,
        }
    }

    /// The conditional fetch and its storage; records in `ran` what the source answered.
    async fn revalidate(
        &self,
        path: &LessonPath,
        old: Option<&CachedLesson>,
        etag: Option<String>,
        ran: &Mutex<Option<Ran>>,
    ) -> Fetched {
        let started = std::time::Instant::now();
        let outcome = self.source.fetch_if_changed(path, etag).await;
        self.metrics.revalidated(&outcome, started.elapsed());
        let (lesson, answer) = match outcome {
            Ok(Conditional::Modified { lesson, etag }) => (lesson, Ran::Modified { etag }),
            Ok(Conditional::NotModified) => match old {
                Some(old) => (old.lesson.clone(), Ran::NotModified),
                None => {
                    tracing::warn!(
                        lesson = path.as_str(),
                        "lesson source answered 'not modified' to an unconditional fetch"
                    );
                    return Err(LessonError::Unavailable);
                }
            },
            Err(error) => return self.source_failed(path, error).await,
        };
        let copy = CachedLesson {
            lesson,
            // Confirmed by the source just now, like a fresh download.
            fetched_at: chrono::Utc::now().timestamp(),
            stale: false,
        };
        self.store_fresh(&copy).await;
        *ran.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
        Ok(copy)
    }

    /// Drops every replica's in-process copy of `path` (this one's too), so none keeps the
    /// old text for its L1 lifetime. Only the bus is used: a purge of L2 would mark the new
    /// shared copy stale, and the next read would fetch it again.
    async fn announce_changed(&self, path: &LessonPath) {
        let Some(bus) = &self.bus else { return };
        let announcement = Invalidation::Paths(vec![path.clone()]);
        if let Err(e) = bus.publish(&announcement).await {
            tracing::warn!(error = %e, lesson = path.as_str(), "announcing a changed lesson failed; other replicas catch up within LESSON_L1_TTL_SECS");
        }
    }
}

#[cfg(test)]
mod tests;
