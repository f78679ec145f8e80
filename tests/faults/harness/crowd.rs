//! Many students at once: crowds looping turns, probes that each thread accepts a turn again,
//! and readiness polling.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::{Endpoint, Turn, TurnPlan};
use super::rest::{Readiness, Reply};

/// `n` student ids unique to this run: `fm-{row}-{8 hex}-{i}`.
pub fn students(row: &str, n: usize) -> Vec<String> {
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let row: String = row
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    (0..n).map(|i| format!("fm-{row}-{run}-{i}")).collect()
}

/// Students looping turns until a deadline; every turn is recorded.
pub struct Crowd {
    turns: Arc<Mutex<Vec<Turn>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Crowd {
    /// Student `i` talks to `endpoints[i % len]` on a thread of its own (created by its first
    /// successful turn), one turn after another, until `until`; after a failed turn it pauses
    /// 200 ms.
    pub fn start(endpoints: &[Endpoint], users: &[String], until: Instant, plan: TurnPlan) -> Self {
        let turns = Arc::new(Mutex::new(Vec::new()));
        let tasks = users
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let ep = endpoints[i % endpoints.len()].clone();
                let user = user.clone();
                let turns = turns.clone();
                tokio::spawn(async move {
                    let mut thread: Option<String> = None;
                    let mut n = 0;
                    while Instant::now() < until {
                        let text = format!("q-{user}-{n} tell me more");
                        n += 1;
                        let turn = ep.turn(&user, thread.as_deref(), &text, plan).await;
                        if thread.is_none() {
                            thread = turn.thread_id.clone();
                        }
                        let ok = turn.answered();
                        turns.lock().expect("turns lock").push(turn);
                        if !ok {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                })
            })
            .collect();
        Self { turns, tasks }
    }

    /// Waits for every student to finish its last turn; returns all turns.
    pub async fn join(self) -> Vec<Turn> {
        for task in self.tasks {
            task.await.expect("student task");
        }
        std::mem::take(&mut *self.turns.lock().expect("turns lock"))
    }
}

/// `(user, thread)` of every thread the turns created.
pub fn threads_of(turns: &[Turn]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = turns
        .iter()
        .filter(|t| t.create)
        .filter_map(|t| Some((t.user.clone(), t.thread_id.clone()?)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How a thread took a turn after the fault.
#[derive(Debug)]
pub struct Probe {
    /// Student.
    pub user: String,
    /// Thread.
    pub thread: String,
    /// Time from the probe's start until a turn was accepted (status 200 and the message
    /// acknowledged); `None` when it was not within the bound.
    pub accepted_after: Option<Duration>,
    /// Every attempt.
    pub attempts: Vec<Turn>,
}

/// Sends a turn to each thread, again every 250 ms while refused, for up to `bound` each (all
/// threads at once); student `i` of `threads` goes to `endpoints[i % len]`.
pub async fn probe_threads(
    endpoints: &[Endpoint],
    threads: &[(String, String)],
    bound: Duration,
) -> Vec<Probe> {
    let tasks: Vec<_> = threads
        .iter()
        .enumerate()
        .map(|(i, (user, thread))| {
            let ep = endpoints[i % endpoints.len()].clone();
            let (user, thread) = (user.clone(), thread.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                let mut attempts = Vec::new();
                let mut accepted_after = None;
                for k in 0.. {
                    let text = format!("probe-{user}-{k} are you there");
                    let turn = ep
                        .turn(
                            &user,
                            Some(&thread),
                            &text,
                            TurnPlan::patient(bound + Duration::from_secs(5)),
                        )
                        .await;
                    let ok = turn.status == Some(200) && turn.user_ack.is_some();
                    let head = turn.headers_at;
                    attempts.push(turn);
                    if ok {
                        accepted_after = head.map(|h| h.duration_since(start));
                        break;
                    }
                    if start.elapsed() > bound {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Probe {
                    user,
                    thread,
                    accepted_after,
                    attempts,
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("probe task"));
    }
    out
}

/// Polls readiness every `every` until `until` (each poll bounded by `timeout`).
pub fn watch_readiness(
    ep: &Endpoint,
    every: Duration,
    timeout: Duration,
    until: Instant,
) -> tokio::task::JoinHandle<Vec<Readiness>> {
    let ep = ep.clone();
    tokio::spawn(async move {
        let mut out = Vec::new();
        while Instant::now() < until {
            out.push(ep.readiness(timeout).await);
            tokio::time::sleep(every).await;
        }
        out
    })
}

/// One loop per user reading `GET /v1/threads` back to back until `until` (each read bounded
/// by 25 s), so some statement is almost always in flight when a fault starts.
pub fn read_loops(
    ep: &Endpoint,
    users: &[String],
    until: Instant,
) -> tokio::task::JoinHandle<Vec<Reply>> {
    let loops: Vec<_> = users
        .iter()
        .map(|user| {
            let (ep, user) = (ep.clone(), user.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                while Instant::now() < until {
                    let reply = ep
                        .get(&user, "/v1/threads?limit=20", Duration::from_secs(25))
                        .await;
                    if reply.status != Some(200) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    out.push(reply);
                }
                out
            })
        })
        .collect();
    tokio::spawn(async move {
        let mut all = Vec::new();
        for task in loops {
            all.extend(task.await.expect("read loop"));
        }
        all
    })
}
