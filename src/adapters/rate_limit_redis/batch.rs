//! Coalesced checks: while one script call is in flight, the checks that arrive wait in a queue
//! and go together as the next call, in arrival order.
//!
//! A check waits at most the limiter's timeout in all (queued, then sent), as a check sent alone
//! does; one that gave up is dropped from the queue before its batch is sent, so it consumes
//! nothing. Every check was admitted (Redis up and connected) when it arrived; a batch is
//! admitted again before it is sent, and its failure (refused, timed out, Redis found down) is
//! every one of its checks' failure, which the quota service then decides in process as today.

use std::collections::BTreeMap;

use fred::prelude::ClientLike;
use futures::future::join_all;
use tokio::sync::oneshot;

use super::{Item, Mode, RedisRateLimiter, decode_batch};
use crate::domain::rate_limit::{Decision, Window};

/// At most this many checks in one script call: the script holds Redis for the whole batch
/// (a few µs per check), and the rest wait for the next call.
pub(super) const MAX_BATCH: usize = 128;

/// A check's outcome, or why there is none (for its error message).
type Outcome = Result<Decision, String>;

/// One check waiting to be sent.
pub(super) struct Pending {
    key: String,
    windows: Vec<Window>,
    reply: oneshot::Sender<Outcome>,
}

/// The checks waiting, and whether a task is sending (it sends them once its call returns).
#[derive(Default)]
pub(super) struct Queue {
    pending: Vec<Pending>,
    sending: bool,
}

/// Marks the queue idle if the sending task ends without doing so (it panicked, or the runtime
/// is shutting down), so the next check starts a new one.
struct Idle<'a> {
    limiter: &'a RedisRateLimiter,
    armed: bool,
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Ok(mut queue) = self.limiter.queue.lock()
        {
            queue.sending = false;
        }
    }
}

impl RedisRateLimiter {
    /// Checks and consumes one request of `key` in the next script call.
    pub(super) async fn queued(&self, key: &str, windows: &[Window]) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self
                .queue
                .lock()
                .map_err(|_| "queue poisoned".to_string())?;
            queue.pending.push(Pending {
                key: key.to_string(),
                windows: windows.to_vec(),
                reply,
            });
            !std::mem::replace(&mut queue.sending, true)
        };
        if start {
            tokio::spawn(self.clone().send_all());
        }
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err("dropped".to_string()),
            Err(_) => Err("timed out".to_string()),
        }
    }

    /// Sends the queue's checks, batch after batch, until it is empty.
    async fn send_all(self) {
        let mut idle = Idle {
            limiter: &self,
            armed: true,
        };
        loop {
            let batch = {
                let Ok(mut queue) = self.queue.lock() else {
                    return;
                };
                // Checks whose caller gave up are not sent: they must consume nothing.
                queue.pending.retain(|p| !p.reply.is_closed());
                if queue.pending.is_empty() {
                    queue.sending = false;
                    idle.armed = false;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect::<Vec<_>>()
            };
            if self.client.is_clustered() {
                // One call per hash slot: a script may only touch keys of one slot.
                let mut slots: BTreeMap<u16, Vec<Pending>> = BTreeMap::new();
                for pending in batch {
                    let slot = slot_of(&self.redis_key(&pending.key, &pending.windows[0]));
                    slots.entry(slot).or_default().push(pending);
                }
                join_all(slots.into_values().map(|group| self.send(group))).await;
            } else {
                self.send(batch).await;
            }
        }
    }

    /// One script call for `batch`, whose outcomes go to their callers.
    async fn send(&self, batch: Vec<Pending>) {
        let outcomes = match self.admit() {
            Err(e) => vec![Err(e.to_string()); batch.len()],
            Ok(()) => {
                let items: Vec<Item<'_>> = batch
                    .iter()
                    .map(|p| Item {
                        mode: Mode::Check,
                        key: &p.key,
                        windows: &p.windows,
                    })
                    .collect();
                match self.call(&items, None).await {
                    Ok(reply) => {
                        let windows: Vec<&[Window]> =
                            batch.iter().map(|p| p.windows.as_slice()).collect();
                        decode_batch(&windows, &reply)
                            .into_iter()
                            .map(|d| d.map_err(str::to_string))
                            .collect()
                    }
                    Err(e) => vec![Err(e.to_string()); batch.len()],
                }
            }
        };
        for (pending, outcome) in batch.into_iter().zip(outcomes) {
            // A caller that gave up meanwhile has fallen back in process already.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// The cluster hash slot of a key (of its hash tag).
fn slot_of(key: &str) -> u16 {
    fred::util::redis_keyslot(key.as_bytes())
}
