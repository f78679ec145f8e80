//! Storage caps: threads per user and items per thread, so one account cannot grow the database
//! without bound however slowly it goes.
//!
//! Threads: a cheap pre-check refuses at the cap without writing. Near the cap (within
//! [`RACE_MARGIN`] of it) the insert is counted again and withdrawn when it went over: of
//! creates racing for the last free slots, at least one sees the others and withdraws (the one
//! whose insert committed last counts every other survivor), so the cap holds on both engines
//! without a lock; racing creates may all be refused. Farther from the cap the recount is
//! skipped (one statement less per new thread): only more than [`RACE_MARGIN`] creates of one
//! user racing between one pre-check and its insert could pass the cap then. Items: counted
//! under the thread's turn lock, so the check is exact.

use super::{StudyError, StudyService, thread_err};
use crate::domain::thread::Thread;

/// Items one turn writes: the student's message and the answer.
const ITEMS_PER_TURN: u64 = 2;

/// Free slots below which a new thread is counted again after its insert.
const RACE_MARGIN: u64 = 64;

impl StudyService {
    /// Refuses when `user_id` already has [`super::StudySettings::max_threads_per_user`] threads;
    /// else the count it saw, for [`Self::insert_thread`].
    pub(super) async fn ensure_thread_room(&self, user_id: &str) -> Result<u64, StudyError> {
        let limit = self.settings.max_threads_per_user;
        let count = self
            .store
            .count_threads(user_id)
            .await
            .map_err(thread_err)?;
        if count >= limit {
            return Err(StudyError::ThreadLimitReached { limit });
        }
        Ok(count)
    }

    /// Inserts a new thread; near the cap (`seen` threads at the pre-check), withdraws it when
    /// the user's count went over the cap meanwhile.
    pub(super) async fn insert_thread(&self, thread: &Thread, seen: u64) -> Result<(), StudyError> {
        let limit = self.settings.max_threads_per_user;
        self.store.create_thread(thread).await.map_err(thread_err)?;
        if seen.saturating_add(RACE_MARGIN) < limit {
            return Ok(());
        }
        let counted = self.store.count_threads(&thread.user_id).await;
        let over = match counted {
            Ok(count) => count > limit,
            // Unknown: not kept, rather than kept unchecked.
            Err(_) => true,
        };
        if over {
            if let Err(e) = self.store.delete_thread(&thread.user_id, &thread.id).await {
                tracing::warn!(thread_id = %thread.id, error = %e, "withdrawing a thread over the cap failed");
            }
            return Err(match counted {
                Ok(_) => StudyError::ThreadLimitReached { limit },
                Err(e) => thread_err(e),
            });
        }
        Ok(())
    }

    /// Refuses a turn whose two items would not fit in the thread; call with its lock held.
    pub(super) async fn ensure_item_room(
        &self,
        user_id: &str,
        thread_id: &str,
    ) -> Result<(), StudyError> {
        let limit = self.settings.max_items_per_thread;
        let count = self
            .store
            .count_items(user_id, thread_id)
            .await
            .map_err(thread_err)?;
        if count + ITEMS_PER_TURN > limit {
            return Err(StudyError::ThreadFull { limit });
        }
        Ok(())
    }
}
