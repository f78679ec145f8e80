//! Storage caps: threads per user and items per thread, so one account cannot grow the database
//! without bound however slowly it goes.
//!
//! Threads: a cheap pre-check refuses at the cap without writing. Near the cap (within
//! [`RACE_MARGIN`] of it) the insert is counted again and withdrawn when it went over: of
//! creates racing for the last free slots, at least one sees the others and withdraws (the one
//! whose insert committed last counts every other survivor), so the cap holds on both engines
//! without a lock; racing creates may all be refused. Farther from the cap the recount is
//! skipped (one statement less per new thread): only more than [`RACE_MARGIN`] creates of one
//! user racing between one pre-check and its insert could pass the cap then.
//!
//! Far from the cap a count is not even needed for every new thread: a count that leaves more
//! than [`RACE_MARGIN`] free slots is leased for [`LEASE_TTL`], and this process's next creates
//! of that user take slots from the lease without a query until [`RACE_MARGIN`] are left.
//! Deletions do not refill a lease (it only errs on the strict side); creates on other
//! replicas are not seen by it, so a user creating more than [`RACE_MARGIN`] threads on other
//! replicas within a lease's lifetime could pass the cap by that much.
//!
//! Items: counted under the thread's turn lock, so the check is exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{StudyError, StudyService, thread_err};
use crate::domain::thread::{Thread, ThreadItem};

/// Items one turn writes: the student's message and the answer.
const ITEMS_PER_TURN: u64 = 2;

/// Free slots below which a new thread is counted again after its insert.
const RACE_MARGIN: u64 = 64;

/// How long a count's free slots are used without counting again.
const LEASE_TTL: Duration = Duration::from_secs(60);

/// Users whose lease is remembered at once (least recently used forgotten: they count again).
const LEASE_CAPACITY: u64 = 100_000;

/// Free thread slots per user, known from a recent count in this process.
pub(super) struct Headroom(moka::sync::Cache<String, Arc<AtomicU64>>);

impl Default for Headroom {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(LEASE_CAPACITY)
                .time_to_live(LEASE_TTL)
                .build(),
        )
    }
}

impl Headroom {
    /// Takes one slot of `user_id`'s lease while more than [`RACE_MARGIN`] are left; the free
    /// slots there were before, if taken.
    fn take(&self, user_id: &str) -> Option<u64> {
        let left = self.0.get(user_id)?;
        let mut free = left.load(Ordering::Acquire);
        while free > RACE_MARGIN {
            match left.compare_exchange(free, free - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(free),
                Err(now) => free = now,
            }
        }
        None
    }

    /// Leases `free` slots (one of which the caller takes now) when far from the cap.
    fn lease(&self, user_id: &str, free: u64) {
        if free > RACE_MARGIN {
            self.0
                .insert(user_id.to_owned(), Arc::new(AtomicU64::new(free - 1)));
        }
    }
}

impl StudyService {
    /// Refuses when `user_id` already has [`super::StudySettings::max_threads_per_user`] threads;
    /// else the count it saw, for [`Self::insert_thread`].
    pub(super) async fn ensure_thread_room(&self, user_id: &str) -> Result<u64, StudyError> {
        let limit = self.settings.max_threads_per_user;
        if let Some(free) = self.headroom.take(user_id) {
            return Ok(limit.saturating_sub(free));
        }
        let count = self
            .store
            .count_threads(user_id)
            .await
            .map_err(thread_err)?;
        if count >= limit {
            return Err(StudyError::ThreadLimitReached { limit });
        }
        self.headroom.lease(user_id, limit - count);
        Ok(count)
    }

    /// Inserts a new thread, with its first item in the same transaction when given; near the
    /// cap (`seen` threads at the pre-check), withdraws both when the user's count went over
    /// the cap meanwhile.
    pub(super) async fn insert_thread(
        &self,
        thread: &Thread,
        first: Option<&ThreadItem>,
        seen: u64,
    ) -> Result<(), StudyError> {
        let limit = self.settings.max_threads_per_user;
        match first {
            Some(item) => self.store.create_thread_with_item(thread, item).await,
            None => self.store.create_thread(thread).await,
        }
        .map_err(thread_err)?;
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
            self.withdraw_thread(thread).await;
            return Err(match counted {
                Ok(_) => StudyError::ThreadLimitReached { limit },
                Err(e) => thread_err(e),
            });
        }
        Ok(())
    }

    /// Deletes a thread this request created and cannot start (its items go with it).
    pub(super) async fn withdraw_thread(&self, thread: &Thread) {
        if let Err(e) = self.store.delete_thread(&thread.user_id, &thread.id).await {
            tracing::warn!(thread_id = %thread.id, error = %e, "withdrawing a new thread failed");
        }
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
