//! Releases under way in this process, by owner token: what the shutdown drain waits for, and
//! the leases a new turn of the same thread may take over at once (their turn has ended).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

/// Owner token → thread id of every release not finished yet.
pub(super) struct Releases {
    pending: watch::Sender<HashMap<String, String>>,
}

impl Releases {
    pub(super) fn new() -> Self {
        Self {
            pending: watch::Sender::new(HashMap::new()),
        }
    }

    /// Records a release before it starts, so a turn that follows at once sees it.
    pub(super) fn begin(&self, token: &str, thread_id: &str) {
        self.pending.send_modify(|m| {
            m.insert(token.to_owned(), thread_id.to_owned());
        });
    }

    /// Forgets a release that succeeded or was given up.
    pub(super) fn end(&self, token: &str) {
        self.pending.send_modify(|m| {
            m.remove(token);
        });
    }

    /// Tokens of `thread_id` still being released.
    pub(super) fn of_thread(&self, thread_id: &str) -> Vec<String> {
        self.pending
            .borrow()
            .iter()
            .filter(|(_, t)| t.as_str() == thread_id)
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// How many releases are under way.
    pub(super) fn len(&self) -> usize {
        self.pending.borrow().len()
    }

    /// Waits until no release is under way, for at most `timeout`; true when none is left.
    pub(super) async fn drained(&self, timeout: Duration) -> bool {
        let mut rx = self.pending.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(HashMap::is_empty)).await,
            Ok(Ok(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_waits_for_the_last_release_and_times_out_while_one_is_left() {
        let releases = std::sync::Arc::new(Releases::new());
        releases.begin("tok_a", "thr_1");
        releases.begin("tok_b", "thr_2");
        assert_eq!(releases.of_thread("thr_1"), ["tok_a"]);
        assert!(!releases.drained(Duration::from_millis(20)).await);

        let ending = releases.clone();
        tokio::spawn(async move {
            ending.end("tok_a");
            tokio::time::sleep(Duration::from_millis(20)).await;
            ending.end("tok_b");
        });
        assert!(releases.drained(Duration::from_secs(5)).await);
        assert_eq!(releases.len(), 0);
        assert!(releases.of_thread("thr_1").is_empty());
    }
}
