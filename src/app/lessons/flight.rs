//! Single-flight: concurrent misses for one path in this process share one upstream fetch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use super::Fetched;

/// One fetch in progress; its outcome once done.
#[derive(Default)]
struct Slot {
    cell: OnceCell<Fetched>,
}

/// Fetches in progress, by path, with how many callers are in each.
#[derive(Default)]
pub(super) struct Flights {
    inflight: Mutex<HashMap<String, (Arc<Slot>, usize)>>,
}

/// A caller's membership in a flight. Dropping it (the fetch finished, or the caller's request
/// was cancelled mid-fetch) leaves the flight; the last one out removes the entry, so a flight
/// abandoned by every caller neither stays in the map nor answers a later caller.
struct Membership<'a> {
    flights: &'a Flights,
    key: &'a str,
    slot: Arc<Slot>,
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        let mut inflight = self
            .flights
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((current, members)) = inflight.get_mut(self.key)
            && Arc::ptr_eq(current, &self.slot)
        {
            *members -= 1;
            if *members == 0 {
                inflight.remove(self.key);
            }
        }
    }
}

impl Flights {
    /// Runs `fetch` unless a fetch of `key` is already running, in which case its result is
    /// shared. If the caller running the fetch goes away, a waiting caller takes over.
    pub(super) async fn run<F, Fut>(&self, key: &str, fetch: F) -> Fetched
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched>,
    {
        let membership = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            let (slot, members) = inflight.entry(key.to_string()).or_default();
            *members += 1;
            Membership {
                flights: self,
                key,
                slot: Arc::clone(slot),
            }
        };
        let result = membership.slot.cell.get_or_init(fetch).await.clone();
        let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if inflight
            .get(key)
            .is_some_and(|(current, _)| Arc::ptr_eq(current, &membership.slot))
        {
            // Done: the next miss fetches again (failures are never cached), even while
            // callers of this flight are still on their way out.
            inflight.remove(key);
        }
        drop(inflight);
        result
    }

    /// Whether a fetch of `key` is running, so a caller would join it rather than fetch.
    pub(super) fn in_progress(&self, key: &str) -> bool {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// Paths with a fetch in progress (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::app::lessons::LessonError;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_the_next_miss_fetches_again() {
        let flights = Arc::new(Flights::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let run = |flights: Arc<Flights>, calls: Arc<AtomicUsize>| async move {
            flights
                .run("p", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(LessonError::Unavailable)
                })
                .await
        };
        let all =
            futures::future::join_all((0..50).map(|_| run(flights.clone(), calls.clone()))).await;
        assert!(all.iter().all(|r| *r == Err(LessonError::Unavailable)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        run(flights.clone(), calls.clone()).await.unwrap_err();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "a failure is not remembered"
        );
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn a_fetch_cancelled_by_its_only_caller_leaves_no_entry_behind() {
        let flights = Flights::default();
        let never = flights.run("p", std::future::pending::<Fetched>);

        // The caller gives up (its request was cancelled) while the fetch is still running.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), never).await;

        assert!(gave_up.is_err());
        assert_eq!(flights.len(), 0, "the abandoned flight is forgotten");
        let next = flights
            .run("p", || async { Err(LessonError::NotFound) })
            .await;
        assert_eq!(next, Err(LessonError::NotFound), "the next caller fetches");
    }

    #[tokio::test]
    async fn a_follower_of_a_cancelled_leader_takes_over_instead_of_hanging() {
        let flights = Arc::new(Flights::default());
        let leader = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move { flights.run("p", std::future::pending::<Fetched>).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run("p", || async { Err(LessonError::NotFound) })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;

        leader.abort();

        let answer = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .expect("the follower does not hang")
            .expect("the follower does not panic");
        assert_eq!(answer, Err(LessonError::NotFound));
        assert_eq!(flights.len(), 0);
    }
}
