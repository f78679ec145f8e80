//! Row 8: two replicas on one Postgres while Redis is cut: still one turn per thread at a time.

use std::time::Instant;

use crate::harness::audit::{
    Findings, Rules, Stored, audit_api, audit_probes, audit_turns, probe_turns, read_store, tally,
};
use crate::harness::client::{Turn, TurnPlan};
use crate::harness::crowd::{probe_threads, students};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::proxy::FaultProxy;
use crate::harness::secs;
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::{fresh_postgres, redis_url, target_of};

/// Rounds of simultaneous turns per thread.
const ROUNDS: usize = 3;

/// Whether a thread's visible history alternates student, tutor, student, tutor, …
fn alternates(stored: &[Stored], thread: &str) -> Result<(), Vec<String>> {
    let mut items: Vec<&Stored> = stored
        .iter()
        .filter(|s| s.thread_id == thread && s.kind != "hidden_context")
        .collect();
    items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let kinds: Vec<String> = items.iter().map(|s| s.kind.clone()).collect();
    let ok = kinds.iter().enumerate().all(|(i, k)| {
        k == if i % 2 == 0 {
            "user_message"
        } else {
            "assistant_message"
        }
    });
    if ok { Ok(()) } else { Err(kinds) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_without_redis_run_one_turn_per_thread_at_a_time() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let Some(redis) = redis_url() else { return };
    let proxy = FaultProxy::start(target_of(&redis)).await;
    let model = FakeModel::start(Pace::quick()).await;
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut env = base_env(&model);
    env.extend(pairs(&[
        ("DATABASE_URL", &database),
        ("REDIS_URL", &proxy.url_for(&redis)),
    ]));
    let mut env_a = env.clone();
    env_a.extend(pairs(&[("REPLICA_ID", &format!("fm-{run}-a"))]));
    env.extend(pairs(&[("REPLICA_ID", &format!("fm-{run}-b"))]));
    let a = Service::start("a", env_a).await;
    let b = Service::start("b", env).await;
    let endpoints = [a.endpoint(), b.endpoint()];
    let users = students("replicas", 6);
    let mut f = Findings::new("8 two-replicas-redis-cut");
    let plan = TurnPlan::patient(secs(40.0));
    let mut turns: Vec<Turn> = Vec::new();
    let mut threads = Vec::new();
    for user in &users {
        let first = endpoints[0]
            .turn(user, None, &format!("q-{user}-0 start"), plan)
            .await;
        if let Some(thread) = first.thread_id.clone() {
            threads.push((user.clone(), thread));
        }
        turns.push(first);
    }
    f.check(threads.len() == users.len(), || {
        "not every thread could be created".into()
    });

    // Act: Redis is cut; each round sends four turns per thread at once, two per replica
    model.set_pace(Pace::lasting(secs(3.0), 12));
    proxy.cut();
    tokio::time::sleep(secs(1.0)).await;
    let mut rounds: Vec<Vec<Vec<Turn>>> = Vec::new();
    for round in 0..ROUNDS {
        let start = Instant::now() + secs(0.2);
        let tasks: Vec<Vec<_>> = threads
            .iter()
            .map(|(user, thread)| {
                (0..4)
                    .map(|k| {
                        let ep = endpoints[k % 2].clone();
                        let (user, thread) = (user.clone(), thread.clone());
                        tokio::spawn(async move {
                            crate::harness::sleep_until(start).await;
                            let text = format!("q-{user}-r{round}-{k} next");
                            ep.turn(&user, Some(&thread), &text, plan).await
                        })
                    })
                    .collect()
            })
            .collect();
        let mut per_thread = Vec::new();
        for group in tasks {
            let mut got = Vec::new();
            for task in group {
                got.push(task.await.expect("turn task"));
            }
            per_thread.push(got);
        }
        rounds.push(per_thread);
    }
    proxy.restore();
    model.set_pace(Pace::quick());
    let probes = probe_threads(&endpoints, &threads, secs(5.0)).await;
    let (stored, _) = read_store(&database).await;

    // Assert
    for (r, per_thread) in rounds.iter().enumerate() {
        for (group, (_, thread)) in per_thread.iter().zip(&threads) {
            let ran: Vec<&Turn> = group.iter().filter(|t| t.status == Some(200)).collect();
            f.check(ran.len() <= 1, || {
                let via: Vec<&str> = ran.iter().map(|t| t.via.as_str()).collect();
                format!(
                    "round {r}: {} turns ran at once on {thread} (via {via:?})",
                    ran.len()
                )
            });
            f.check(!ran.is_empty(), || {
                let statuses: Vec<Option<u16>> = group.iter().map(|t| t.status).collect();
                format!("round {r}: no turn ran on {thread} while Redis was down ({statuses:?})")
            });
        }
        turns.extend(per_thread.iter().flatten().cloned());
    }
    for (_, thread) in &threads {
        if let Err(kinds) = alternates(&stored, thread) {
            f.check(false, || {
                format!("history of {thread} is interleaved: {kinds:?}")
            });
        }
    }
    f.note(tally(&turns));
    turns.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(5.0));
    let rules = Rules {
        also_allowed: &[409],
        broken_streams_ok: false,
    };
    audit_turns(&mut f, &turns, &stored, &model.answers(), rules);
    audit_api(&mut f, &endpoints[1], &threads, &stored).await;
    f.finish(&[&a, &b]);
}
