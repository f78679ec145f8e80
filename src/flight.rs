//! Single-flight: concurrent callers asking for one key share one run (a lesson fetch, an SSO
//! lookup), and the entry goes away with the run, whether it finished or every caller left.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// One entry: the run's outcome once done, and how many callers are in it.
type Entry<V> = (Arc<OnceCell<V>>, usize);

/// Runs in progress, by key, with how many callers are in each.
pub struct Flights<K, V> {
    inflight: Mutex<HashMap<K, Entry<V>>>,
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            inflight: Mutex::new(HashMap::new()),
        }
    }
}

/// A caller's membership in a flight. Dropping it (the run finished, or the caller's request
/// was cancelled mid-run) leaves the flight; the last one out removes the entry, so a flight
/// abandoned by every caller neither stays in the map nor answers a later caller.
struct Membership<'a, K: Hash + Eq, V> {
    flights: &'a Flights<K, V>,
    key: K,
    slot: Arc<OnceCell<V>>,
}

impl<K: Hash + Eq, V> Drop for Membership<'_, K, V> {
    fn drop(&mut self) {
        let mut inflight = self
            .flights
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((current, members)) = inflight.get_mut(&self.key)
            && Arc::ptr_eq(current, &self.slot)
        {
            *members -= 1;
            if *members == 0 {
                inflight.remove(&self.key);
            }
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Flights<K, V> {
    /// Runs `run` unless a run for `key` is already under way, in which case its outcome is
    /// shared. If the caller running it goes away, a waiting caller takes over.
    pub async fn run<F, Fut>(&self, key: K, run: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let membership = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            let (slot, members) = inflight
                .entry(key.clone())
                .or_insert_with(|| (Arc::default(), 0));
            *members += 1;
            Membership {
                flights: self,
                slot: Arc::clone(slot),
                key,
            }
        };
        let result = membership.slot.get_or_init(run).await.clone();
        let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if inflight
            .get(&membership.key)
            .is_some_and(|(current, _)| Arc::ptr_eq(current, &membership.slot))
        {
            // Done: the next caller runs again (outcomes are remembered, if at all, by the
            // caller's own caches), even while callers of this flight are on their way out.
            inflight.remove(&membership.key);
        }
        drop(inflight);
        result
    }

    /// Whether a run for `key` is under way, so a caller would join it rather than run.
    pub fn in_progress<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// Keys with a run under way (tests).
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

    /// An outcome like a lesson fetch's: cloned to every caller of a flight.
    #[derive(Debug, Clone, PartialEq)]
    enum Outcome {
        Unavailable,
        NotFound,
    }

    type Fetched = Result<u32, Outcome>;
    type Flights = super::Flights<String, Fetched>;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_the_next_miss_fetches_again() {
        let flights = Arc::new(Flights::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let run = |flights: Arc<Flights>, calls: Arc<AtomicUsize>| async move {
            flights
                .run("p".to_owned(), || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(Outcome::Unavailable)
                })
                .await
        };
        let all =
            futures::future::join_all((0..50).map(|_| run(flights.clone(), calls.clone()))).await;
        assert!(all.iter().all(|r| *r == Err(Outcome::Unavailable)));
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
        let never = flights.run("p".to_owned(), std::future::pending::<Fetched>);

        // The caller gives up (its request was cancelled) while the fetch is still running.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), never).await;

        assert!(gave_up.is_err());
        assert_eq!(flights.len(), 0, "the abandoned flight is forgotten");
        let next = flights
            .run("p".to_owned(), || async { Err(Outcome::NotFound) })
            .await;
        assert_eq!(next, Err(Outcome::NotFound), "the next caller fetches");
    }

    #[tokio::test]
    async fn a_follower_of_a_cancelled_leader_takes_over_instead_of_hanging() {
        let flights = Arc::new(Flights::default());
        let leader = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run("p".to_owned(), std::future::pending::<Fetched>)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run("p".to_owned(), || async { Err(Outcome::NotFound) })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;

        leader.abort();

        let answer = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .expect("the follower does not hang")
            .expect("the follower does not panic");
        assert_eq!(answer, Err(Outcome::NotFound));
        assert_eq!(flights.len(), 0);
    }
}
