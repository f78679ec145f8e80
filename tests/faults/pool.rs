//! Row 9: a saturated pool (two connections, 200 concurrent requests) is busy, not down.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::audit::{Findings, Rules, audit_turns, read_store, readiness_line, tally};
use crate::harness::client::{Turn, TurnPlan};
use crate::harness::crowd::{students, watch_readiness};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::rest::Reply;
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::fresh_postgres;
use crate::harness::{secs, sleep_until};

/// Requests sent at once: half `threads.create`, half reads.
const BURST: usize = 200;

enum Outcome {
    Turn(Box<Turn>),
    Read(Reply),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saturated_pool_keeps_readiness_green_and_leaves_no_empty_thread() {
    // Arrange
    let _turn = crate::harness::alone().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let model = FakeModel::start(Pace::lasting(secs(0.5), 5)).await;
    let acquire = secs(2.0);
    let mut env = base_env(&model);
    env.extend(pairs(&[
        ("DATABASE_URL", &database),
        ("DB_MAX_CONNECTIONS", "2"),
        ("DB_MIN_CONNECTIONS", "1"),
        ("DB_ACQUIRE_TIMEOUT_SECS", "2"),
    ]));
    let service = Service::start("pool", env).await;
    let ep = service.endpoint();
    let users = students("pool", 20);
    let mut f = Findings::new("9 pool-saturated");
    let t0 = Instant::now() + secs(0.5);
    let readiness = watch_readiness(&ep, secs(0.1), secs(5.0), t0 + secs(6.0));

    // Act
    let tasks: Vec<_> = (0..BURST)
        .map(|i| {
            let ep = ep.clone();
            let user = users[(i / 2) % users.len()].clone();
            tokio::spawn(async move {
                sleep_until(t0).await;
                match i % 4 {
                    0 | 2 => {
                        let text = format!("q-{user}-{i} first question");
                        let turn = ep
                            .turn(&user, None, &text, TurnPlan::patient(secs(30.0)))
                            .await;
                        Outcome::Turn(Box::new(turn))
                    }
                    1 => {
                        let list = json!({"type":"threads.list","params":{"limit":20}});
                        Outcome::Read(ep.chatkit_json(&user, list, secs(30.0)).await)
                    }
                    _ => Outcome::Read(ep.get(&user, "/v1/threads?limit=20", secs(30.0)).await),
                }
            })
        })
        .collect();
    let mut turns = Vec::new();
    let mut reads = Vec::new();
    for task in tasks {
        match task.await.expect("request task") {
            Outcome::Turn(t) => turns.push(*t),
            Outcome::Read(r) => reads.push(r),
        }
    }
    let polls = readiness.await.expect("readiness poller");
    let (stored, stored_threads) = read_store(&database).await;
    let mut listed = Vec::new();
    for user in &users {
        match ep.thread_ids(user).await {
            Ok(ids) => listed.extend(ids),
            Err(e) => f.check(false, || format!("listing {user}'s threads failed: {e}")),
        }
    }

    // Assert
    f.note(tally(&turns));
    f.note(format!("readiness: {}", readiness_line(&polls, t0)));
    f.check(polls.iter().all(|p| p.status == Some(200)), || {
        format!(
            "readiness left 200 while the pool was only busy: {}",
            readiness_line(&polls, t0)
        )
    });
    let margin = Duration::from_millis(1500);
    for t in turns.iter().filter(|t| t.status == Some(503)) {
        f.check(t.wait_for_head() <= acquire + margin, || {
            format!(
                "a 503 took {:?} (acquire timeout {acquire:?})",
                t.wait_for_head()
            )
        });
    }
    let mut read_statuses = std::collections::BTreeMap::new();
    for r in &reads {
        *read_statuses.entry(r.status).or_insert(0) += 1;
        f.check(matches!(r.status, Some(200) | Some(503)), || {
            format!("a read got {:?} {:?} {}", r.status, r.transport, r.body)
        });
        if r.status == Some(503) {
            f.check(r.took <= acquire + margin, || {
                format!("a 503 read took {:?}", r.took)
            });
            f.check(r.retry_after.is_some(), || {
                "a 503 read without Retry-After".into()
            });
        }
    }
    f.note(format!("reads: {read_statuses:?}"));
    let empty: Vec<&String> = stored_threads
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !stored.iter().any(|s| &s.thread_id == *id))
        .collect();
    f.check(empty.is_empty(), || {
        format!(
            "{} threads without any message in the database: {empty:?}",
            empty.len()
        )
    });
    let listed_empty = listed
        .iter()
        .filter(|id| !stored.iter().any(|s| &s.thread_id == *id))
        .count();
    f.check(listed_empty == 0, || {
        format!("{listed_empty} threads without their first message in students' lists")
    });
    audit_turns(&mut f, &turns, &stored, &model.answers(), Rules::STRICT);
    f.finish(&[&service]);
}
