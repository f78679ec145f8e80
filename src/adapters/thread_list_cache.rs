//! Decorator of [`ThreadStore`] (and of [`UserDataStore`]'s erasure) that keeps recent
//! `list_threads` pages in memory per user, and never serves one older than a write of that
//! user that has answered: every list reflects every write that finished before it started,
//! on any replica.
//!
//! A page is stored with the *generation* it was filled under, read before the database was:
//! - in process, a per-user number replaced after every write of the user (from one counter, so
//!   a user whose number was evicted gets one no page carries);
//! - with Redis ([`shared`]), also a per-user random generation every replica reads on each list
//!   (one `MGET`), replaced before every write and guarded by a pending count until the write
//!   ended.
//!
//! A page is served only while both generations are the ones it was filled under; a reader that
//! raced a write filled its page under the old generation, so it is never served afterwards.
//! Redis unreachable or slow: the list reads the database (nothing is served or filled), and
//! a replica whose Redis connection dropped never serves a page filled before.
//!
//! The one case that is not exact: a write on a replica that cannot reach Redis at all (its mark
//! and its retry after the write both fail) while another replica still reaches Redis and holds
//! a page of that user. The write is not refused (Redis stays optional); it is announced in the
//! background once Redis answers, and that replica's page expires within [`PAGE_TTL`] anyway.
//!
//! Writes that change what a list shows (a thread's row: create, title, status, metadata,
//! delete; the erasure of a user's data) go through [`CachedThreadStore`] and
//! [`CachedUserDataStore`]; item writes, study state and ratings do not touch the listed
//! columns and pass straight through. `updated_at` (bumped by every item write) is not listed.
//! Writers of the `threads` table outside these ports: the turn lease (its own columns, not
//! listed) and `db copy` (an offline tool run before the service serves the target).

mod shared;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use self::shared::Generation;
pub use self::shared::SharedGenerations;
use crate::domain::ports::{
    StoreError, ThreadExport, ThreadStore, ThreadsErased, TurnCommit, UserDataStore,
};
use crate::domain::teach::StudyState;
use crate::domain::thread::{FeedbackKind, Order, Page, PageRequest, Thread, ThreadItem};

/// How long a page may be served (a bound on memory held for idle users, not on freshness:
/// freshness comes from the generations).
const PAGE_TTL: Duration = Duration::from_secs(30);

/// Longest user id or cursor a page is cached for (longer ones read the database each time).
const MAX_KEY_PART_BYTES: usize = 256;

/// Approximate bytes of cached pages one process keeps.
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Users whose in-process generation is remembered (16 bytes and the id each).
const MAX_USERS: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    user_id: String,
    limit: u32,
    after: Option<String>,
    desc: bool,
}

/// The generations a page was filled under.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    local: u64,
    shared: Option<String>,
}

struct Cached {
    tag: Tag,
    page: Page<Thread>,
}

/// The page cache and its generations (one per process).
pub struct ThreadListCache {
    pages: moka::sync::Cache<PageKey, Arc<Cached>>,
    local: moka::sync::Cache<String, u64>,
    next: AtomicU64,
    shared: Option<SharedGenerations>,
}

impl ThreadListCache {
    /// A cache exact within this process only: for one process alone on its database.
    pub fn local() -> Self {
        Self::build(None)
    }

    /// A cache exact across every replica sharing `shared`'s Redis (and the database).
    pub fn shared(shared: SharedGenerations) -> Self {
        Self::build(Some(shared))
    }

    fn build(shared: Option<SharedGenerations>) -> Self {
        Self {
            pages: moka::sync::Cache::builder()
                .max_capacity(MAX_PAGE_BYTES)
                .weigher(|k: &PageKey, v: &Arc<Cached>| weight(k, &v.page))
                .time_to_live(PAGE_TTL)
                .build(),
            local: moka::sync::Cache::builder().max_capacity(MAX_USERS).build(),
            next: AtomicU64::new(1),
            shared,
        }
    }

    fn fresh(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// This process's generation of `user_id`.
    fn local_generation(&self, user_id: &str) -> u64 {
        self.local
            .get_with_by_ref(user_id, || self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The tag a page filled now would carry, or `None` when the cache may not be used.
    async fn tag(&self, user_id: &str) -> Option<Tag> {
        let local = self.local_generation(user_id);
        let shared = match &self.shared {
            None => None,
            Some(shared) => match shared.read(user_id).await {
                Ok(Generation::Current(g)) => Some(g),
                Ok(Generation::Unusable) => return None,
                Err(e) => {
                    tracing::debug!(error = %e, "thread list cache bypassed: redis");
                    return None;
                }
            },
        };
        Some(Tag { local, shared })
    }

    async fn list(
        &self,
        inner: &dyn ThreadStore,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Thread>, StoreError> {
        let cacheable = user_id.len() <= MAX_KEY_PART_BYTES
            && page
                .after
                .as_ref()
                .is_none_or(|a| a.len() <= MAX_KEY_PART_BYTES);
        let tag = if cacheable {
            self.tag(user_id).await
        } else {
            None
        };
        let Some(tag) = tag else {
            return inner.list_threads(user_id, page).await;
        };
        let key = PageKey {
            user_id: user_id.to_owned(),
            limit: page.limit,
            after: page.after.clone(),
            desc: page.order == Order::Desc,
        };
        if let Some(hit) = self.pages.get(&key).filter(|c| c.tag == tag) {
            return Ok(hit.page.clone());
        }
        let fresh = inner.list_threads(user_id, page).await?;
        self.pages.insert(
            key,
            Arc::new(Cached {
                tag,
                page: fresh.clone(),
            }),
        );
        Ok(fresh)
    }

    /// Runs `write` of `user_id`'s threads, announced as the module documentation says.
    async fn write<T>(
        &self,
        user_id: &str,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let marked = match &self.shared {
            Some(shared) => match shared.mark(user_id).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "thread list cache: marking a write failed");
                    false
                }
            },
            None => false,
        };
        // Replaced even when the caller stops waiting halfway (the write may have committed).
        let bump = LocalBump {
            cache: self,
            user_id,
        };
        let result = write.await;
        drop(bump);
        if let Some(shared) = &self.shared {
            let definite = matches!(
                result,
                Ok(_) | Err(StoreError::NotFound | StoreError::Conflict)
            );
            if !marked {
                if let Err(e) = shared.bump(user_id).await {
                    // Replicas that still reach Redis (this one could not) may serve this user's
                    // pages filled before the write until it is announced or they expire.
                    tracing::error!(
                        error = %e,
                        "thread list cache: a write could not be announced to other replicas"
                    );
                    shared.bump_later(user_id, PAGE_TTL);
                }
            } else if definite {
                // An ambiguous failure (the commit may still land) keeps the mark until it
                // expires instead.
                if let Err(e) = shared.end(user_id).await {
                    tracing::warn!(error = %e, "thread list cache: ending a write failed");
                }
            }
        }
        result
    }
}

/// Replaces the user's in-process generation when dropped.
struct LocalBump<'a> {
    cache: &'a ThreadListCache,
    user_id: &'a str,
}

impl Drop for LocalBump<'_> {
    fn drop(&mut self) {
        let next = self.cache.fresh();
        self.cache.local.insert(self.user_id.to_owned(), next);
    }
}

/// Approximate bytes a page holds, for the cache's bound (at least 1).
fn weight(key: &PageKey, page: &Page<Thread>) -> u32 {
    let rows: usize = page
        .data
        .iter()
        .map(|t| {
            128 + t.id.len()
                + t.user_id.len()
                + t.organization_id.as_ref().map_or(0, String::len)
                + t.title.as_ref().map_or(0, String::len)
                + t.metadata.to_string().len()
        })
        .sum();
    let bytes = 96 + key.user_id.len() + key.after.as_ref().map_or(0, String::len) + rows;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// [`ThreadStore`] whose `list_threads` goes through a [`ThreadListCache`].
pub struct CachedThreadStore {
    inner: Arc<dyn ThreadStore>,
    cache: Arc<ThreadListCache>,
}

impl CachedThreadStore {
    /// `inner` with its lists cached in `cache` (shared with [`CachedUserDataStore`]).
    pub fn new(inner: Arc<dyn ThreadStore>, cache: Arc<ThreadListCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl ThreadStore for CachedThreadStore {
    async fn create_thread(&self, thread: &Thread) -> Result<(), StoreError> {
        let write = self.inner.create_thread(thread);
        self.cache.write(&thread.user_id, write).await
    }

    async fn create_thread_with_item(
        &self,
        thread: &Thread,
        first: &ThreadItem,
    ) -> Result<(), StoreError> {
        let write = self.inner.create_thread_with_item(thread, first);
        self.cache.write(&thread.user_id, write).await
    }

    async fn get_thread(&self, user_id: &str, thread_id: &str) -> Result<Thread, StoreError> {
        self.inner.get_thread(user_id, thread_id).await
    }

    async fn list_threads(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Thread>, StoreError> {
        self.cache.list(self.inner.as_ref(), user_id, page).await
    }

    async fn count_threads(&self, user_id: &str) -> Result<u64, StoreError> {
        self.inner.count_threads(user_id).await
    }

    async fn count_items(&self, user_id: &str, thread_id: &str) -> Result<u64, StoreError> {
        self.inner.count_items(user_id, thread_id).await
    }

    async fn save_thread(&self, thread: &Thread) -> Result<(), StoreError> {
        let write = self.inner.save_thread(thread);
        self.cache.write(&thread.user_id, write).await
    }

    async fn delete_thread(&self, user_id: &str, thread_id: &str) -> Result<(), StoreError> {
        let write = self.inner.delete_thread(user_id, thread_id);
        self.cache.write(user_id, write).await
    }

    async fn add_item(&self, user_id: &str, item: &ThreadItem) -> Result<(), StoreError> {
        // Moves only the thread's `updated_at`, which lists do not show.
        self.inner.add_item(user_id, item).await
    }

    async fn get_item(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<ThreadItem, StoreError> {
        self.inner.get_item(user_id, thread_id, item_id).await
    }

    async fn list_items(
        &self,
        user_id: &str,
        thread_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ThreadItem>, StoreError> {
        self.inner.list_items(user_id, thread_id, page).await
    }

    async fn delete_items_after(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_items_after(user_id, thread_id, item_id)
            .await
    }

    async fn load_study_state(
        &self,
        user_id: &str,
        thread_id: &str,
    ) -> Result<Option<StudyState>, StoreError> {
        self.inner.load_study_state(user_id, thread_id).await
    }

    async fn commit_turn(&self, user_id: &str, turn: &TurnCommit) -> Result<(), StoreError> {
        let write = self.inner.commit_turn(user_id, turn);
        if turn.title.is_some() {
            self.cache.write(user_id, write).await
        } else {
            // Items, study state and `updated_at` only: nothing a list shows.
            write.await
        }
    }

    async fn add_feedback(
        &self,
        user_id: &str,
        thread_id: &str,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<(), StoreError> {
        self.inner
            .add_feedback(user_id, thread_id, item_ids, kind)
            .await
    }
}

/// [`UserDataStore`] whose erasure drops the user's cached lists like any thread write.
pub struct CachedUserDataStore {
    inner: Arc<dyn UserDataStore>,
    cache: Arc<ThreadListCache>,
}

impl CachedUserDataStore {
    /// `inner`, announcing erasures to `cache`.
    pub fn new(inner: Arc<dyn UserDataStore>, cache: Arc<ThreadListCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl UserDataStore for CachedUserDataStore {
    async fn export(
        &self,
        user_id: &str,
        max_threads: u64,
    ) -> Result<Vec<ThreadExport>, StoreError> {
        self.inner.export(user_id, max_threads).await
    }

    async fn erase(&self, user_id: &str) -> Result<ThreadsErased, StoreError> {
        self.cache.write(user_id, self.inner.erase(user_id)).await
    }
}
