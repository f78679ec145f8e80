//! Single-flight: concurrent misses for one path in this process share one upstream fetch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::Fetched;

/// Fetches in progress, by path.
#[derive(Default)]
pub(super) struct Flights {
    inflight: Mutex<HashMap<String, Arc<OnceCell<Fetched>>>>,
}

impl Flights {
    /// Runs `fetch` unless a fetch of `key` is already running, in which case its result is
    /// shared. If the caller running the fetch goes away, a waiting caller takes over.
    pub(super) async fn run<F, Fut>(&self, key: &str, fetch: F) -> Fetched
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched>,
    {
        let slot = {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            inflight.entry(key.to_string()).or_default().clone()
        };
        let result = slot.get_or_init(fetch).await.clone();
        let mut inflight = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inflight
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, &slot))
        {
            // Done: the next miss fetches again (failures are never cached).
            inflight.remove(key);
        }
        result
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
    }
}
