//! The audit after a fault: what the students were told against what the database holds (read
//! directly) and what the API lists. Every problem is collected, so one run reports all of
//! them at once.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

use super::client::{Endpoint, Turn};
use super::crowd::Probe;
pub use super::findings::Findings;
use super::model::answer_token;
use super::rest::Readiness;

/// A `thread_items` row.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Item id.
    pub id: String,
    /// Thread.
    pub thread_id: String,
    /// Owner.
    pub user_id: String,
    /// `user_message`, `assistant_message`, `hidden_context`.
    pub kind: String,
    /// The message text (user parts joined, or the answer).
    pub text: String,
    /// An answer kept partial after a failure.
    pub interrupted: bool,
    /// Creation instant (µs), for order.
    pub created_at: i64,
}

/// Every item and every thread `(id, user_id)` in the database at `url`.
pub async fn read_store(url: &str) -> (Vec<Stored>, Vec<(String, String)>) {
    let db = Database::connect(url)
        .await
        .expect("audit connects to the database");
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, thread_id, user_id, kind, payload, created_at FROM thread_items ORDER BY thread_id, created_at, id",
        ))
        .await
        .expect("read thread_items");
    let mut items = Vec::new();
    for row in rows {
        let payload: Value = row
            .try_get::<Value>("", "payload")
            .or_else(|_| {
                row.try_get::<String>("", "payload")
                    .map(|s| serde_json::from_str(&s).unwrap_or(Value::Null))
            })
            .expect("payload");
        let text = match payload["type"].as_str() {
            Some("assistant_message") => payload["text"].as_str().unwrap_or_default().to_string(),
            _ => payload["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["text"].as_str())
                .collect(),
        };
        items.push(Stored {
            id: row.try_get("", "id").expect("id"),
            thread_id: row.try_get("", "thread_id").expect("thread_id"),
            user_id: row.try_get("", "user_id").expect("user_id"),
            kind: row.try_get("", "kind").expect("kind"),
            interrupted: payload["interrupted"].as_bool().unwrap_or(false),
            text,
            created_at: row.try_get("", "created_at").expect("created_at"),
        });
    }
    let threads = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, user_id FROM threads",
        ))
        .await
        .expect("read threads")
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String>("", "id").expect("id"),
                r.try_get::<String>("", "user_id").expect("user_id"),
            )
        })
        .collect();
    let _ = db.close().await;
    (items, threads)
}

/// What a row tolerates.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Statuses a turn may get besides 200 and 503 (e.g. 409 when turns race on purpose).
    pub also_allowed: &'static [u16],
    /// Streams may break without an error event (the process was killed).
    pub broken_streams_ok: bool,
}

impl Rules {
    /// 200 and 503 only; every stream ends with its answer or an error event.
    pub const STRICT: Rules = Rules {
        also_allowed: &[],
        broken_streams_ok: false,
    };
}

/// Counts of statuses and outcomes, for notes.
pub fn tally(turns: &[Turn]) -> String {
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for t in turns {
        let key = match (t.status, &t.transport, t.timed_out) {
            (_, _, true) => "timeout".to_string(),
            (Some(s), None, _) => s.to_string(),
            (Some(s), Some(_), _) => format!("{s}+broken"),
            (None, Some(_), _) => "no-answer".to_string(),
            (None, None, _) => "none".to_string(),
        };
        *statuses.entry(key).or_default() += 1;
    }
    let mut statuses: Vec<_> = statuses.into_iter().collect();
    statuses.sort();
    let answered = turns.iter().filter(|t| t.answered()).count();
    let errored = turns.iter().filter(|t| !t.errors.is_empty()).count();
    let acked = turns.iter().filter(|t| t.user_ack.is_some()).count();
    let max_head = turns
        .iter()
        .map(Turn::wait_for_head)
        .max()
        .unwrap_or_default();
    format!(
        "{} turns; statuses {statuses:?}; {acked} messages acknowledged, {answered} answers done, {errored} with error events; longest wait for a head {max_head:?}",
        turns.len()
    )
}

/// The core audit of turns against the store.
pub fn audit_turns(
    f: &mut Findings,
    turns: &[Turn],
    stored: &[Stored],
    answers: &[String],
    rules: Rules,
) {
    let by_id: HashMap<&str, &Stored> = stored.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut user_texts: HashMap<&str, usize> = HashMap::new();
    let mut tokens: HashMap<&str, usize> = HashMap::new();
    for s in stored {
        match s.kind.as_str() {
            "user_message" => *user_texts.entry(s.text.as_str()).or_default() += 1,
            "assistant_message" => {
                if let Some(token) = answer_token(&s.text) {
                    *tokens.entry(token).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    for (token, n) in &tokens {
        f.check(*n == 1, || format!("answer {token} stored {n} times"));
    }
    let full: HashMap<&str, &str> = answers
        .iter()
        .filter_map(|a| Some((answer_token(a)?, a.as_str())))
        .collect();
    for s in stored
        .iter()
        .filter(|s| s.kind == "assistant_message" && !s.interrupted)
    {
        let expected = answer_token(&s.text).and_then(|t| full.get(t));
        f.check(expected == Some(&s.text.as_str()), || {
            format!("stored answer {} of {} is not a complete model answer and not marked interrupted: {:?}", s.id, s.thread_id, short(&s.text))
        });
    }
    for t in turns {
        let who = || format!("{} {:?} {:?}", t.user, t.thread_id, short(&t.text));
        match t.status {
            Some(200) | Some(503) | None => {}
            Some(s) if rules.also_allowed.contains(&s) => {}
            Some(s) => f.check(false, || {
                format!("status {s} for {}: {}", who(), t.summary())
            }),
        }
        if t.status == Some(503) {
            f.check(t.retry_after.is_some(), || {
                format!("503 without Retry-After for {}", who())
            });
        }
        let copies = user_texts.get(t.text.as_str()).copied().unwrap_or(0);
        f.check(copies <= 1, || {
            format!("student message stored {copies} times: {}", who())
        });
        if let Some(ack) = &t.user_ack {
            match by_id.get(ack.as_str()) {
                None => f.check(false, || {
                    format!(
                        "acknowledged student message {ack} is not stored: {}",
                        who()
                    )
                }),
                Some(s) => f.check(
                    s.kind == "user_message" && s.text == t.text && s.user_id == t.user,
                    || {
                        format!(
                            "acknowledged message {ack} stored as {} {:?}",
                            s.kind,
                            short(&s.text)
                        )
                    },
                ),
            }
        }
        if let Some(done) = &t.done_text {
            let id = t.assistant_id.as_deref().unwrap_or_default();
            match by_id.get(id) {
                None => f.check(false, || {
                    format!(
                        "answer {id} reached thread.item.done but is not stored: {}",
                        who()
                    )
                }),
                Some(s) => f.check(&s.text == done, || {
                    format!(
                        "answer {id} stored with other text: streamed {:?}, stored {:?}",
                        short(done),
                        short(&s.text)
                    )
                }),
            }
            f.check(t.streamed.trim_end() == done.as_str(), || {
                format!(
                    "answer {id}: deltas {:?} differ from thread.item.done {:?}",
                    short(&t.streamed),
                    short(done)
                )
            });
        }
        f.check(t.garbage.is_empty(), || {
            format!("frames that are not events: {:?}", t.garbage)
        });
        let started = t.status == Some(200);
        let broken = t.transport.is_some() || t.timed_out;
        if started && !t.answered() && t.errors.is_empty() && !t.hung_up {
            if broken {
                f.check(rules.broken_streams_ok, || {
                    format!(
                        "stream broke without an error event or the answer: {}",
                        t.summary()
                    )
                });
            } else {
                f.check(false, || {
                    format!(
                        "stream ended without the answer and without an error event: {}",
                        t.summary()
                    )
                });
            }
        }
        f.check(
            rules.broken_streams_ok || t.status.is_some() || !broken,
            || format!("no answer at all: {}", t.summary()),
        );
    }
}

/// Every thread accepted a turn within `bound` of the probe's start.
pub fn audit_probes(f: &mut Findings, probes: &[Probe], bound: Duration) {
    let mut slowest = Duration::ZERO;
    for p in probes {
        match p.accepted_after {
            Some(d) => slowest = slowest.max(d),
            None => {
                let statuses: Vec<String> = p
                    .attempts
                    .iter()
                    .map(|t| {
                        t.status
                            .map_or_else(|| "none".to_string(), |s| s.to_string())
                    })
                    .collect();
                f.check(false, || {
                    format!(
                        "thread {} of {} accepted no turn within {bound:?} (attempts: {})",
                        p.thread,
                        p.user,
                        statuses.join(",")
                    )
                });
            }
        }
    }
    let accepted = probes.iter().filter(|p| p.accepted_after.is_some()).count();
    f.note(format!(
        "{accepted}/{} threads accepted a new turn; slowest after {slowest:?}",
        probes.len()
    ));
}

/// The probes' own turns, to audit with the rest.
pub fn probe_turns(probes: &[Probe]) -> Vec<Turn> {
    // Their 409s (a thread still locked) are already reported by `audit_probes`.
    probes
        .iter()
        .flat_map(|p| p.attempts.iter())
        .filter(|t| t.status != Some(409))
        .cloned()
        .collect()
}

/// What the API lists for each thread equals the database's visible items, in order.
pub async fn audit_api(
    f: &mut Findings,
    ep: &Endpoint,
    threads: &[(String, String)],
    stored: &[Stored],
) {
    for (user, thread) in threads {
        let mut db: Vec<&Stored> = stored
            .iter()
            .filter(|s| &s.thread_id == thread && s.kind != "hidden_context")
            .collect();
        db.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        match ep.items(user, thread).await {
            Err(e) => f.check(false, || format!("listing items of {thread} failed: {e}")),
            Ok(api) => {
                let api_ids: Vec<&str> = api.iter().map(|i| i.0.as_str()).collect();
                let db_ids: Vec<&str> = db.iter().map(|s| s.id.as_str()).collect();
                f.check(api_ids == db_ids, || {
                    format!("API lists {api_ids:?} for {thread}, the database holds {db_ids:?}")
                });
                let mut seen = std::collections::HashSet::new();
                for id in &api_ids {
                    f.check(seen.insert(*id), || {
                        format!("item {id} listed twice in {thread}")
                    });
                }
            }
        }
    }
}

/// Readiness answers as `status@seconds` for notes.
pub fn readiness_line(polls: &[Readiness], since: std::time::Instant) -> String {
    let mut out = Vec::new();
    let mut last: Option<Option<u16>> = None;
    for p in polls {
        if last != Some(p.status) {
            out.push(format!(
                "{}@{:.1}s",
                p.status
                    .map_or_else(|| "none".to_string(), |s| s.to_string()),
                p.at.saturating_duration_since(since).as_secs_f64()
            ));
            last = Some(p.status);
        }
    }
    out.join(" → ")
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}
