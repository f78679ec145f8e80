//! Rows 6–7: SIGTERM with a grace longer, then shorter, than a turn; SIGKILL mid-turn.

use std::time::Instant;

use crate::harness::audit::{
    Findings, Rules, Stored, audit_api, audit_probes, audit_turns, probe_turns, read_store, tally,
};
use crate::harness::client::{Endpoint, Turn, TurnPlan};
use crate::harness::crowd::{probe_threads, students, threads_of};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::raw::KeepAlive;
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::{fresh_postgres, redis_url};
use crate::harness::{secs, sleep_until};

/// A service on a fresh Postgres database and the shared Redis, with `extra` variables.
async fn setup(pace: Pace, extra: &[(&str, &str)]) -> Option<(String, FakeModel, Service)> {
    let database = fresh_postgres().await?;
    let redis = redis_url()?;
    let model = FakeModel::start(pace).await;
    let mut env = base_env(&model);
    env.extend(pairs(&[("DATABASE_URL", &database), ("REDIS_URL", &redis)]));
    env.extend(pairs(extra));
    let service = Service::start("shutdown", env).await;
    Some((database, model, service))
}

/// Each user starts a thread at `at`, hanging up after `hang_up_after` deltas when given.
fn start_turns(
    ep: &Endpoint,
    users: &[String],
    at: Instant,
    hang_up_after: Option<usize>,
) -> Vec<tokio::task::JoinHandle<Turn>> {
    users
        .iter()
        .map(|user| {
            let (ep, user) = (ep.clone(), user.clone());
            tokio::spawn(async move {
                sleep_until(at).await;
                let plan = TurnPlan {
                    timeout: secs(40.0),
                    hang_up_after,
                };
                ep.turn(&user, None, &format!("q-{user}-0 teach me"), plan)
                    .await
            })
        })
        .collect()
}

async fn joined(tasks: Vec<tokio::task::JoinHandle<Turn>>) -> Vec<Turn> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("turn task"));
    }
    out
}

fn answers_of<'a>(stored: &'a [Stored], thread: &str) -> Vec<&'a Stored> {
    stored
        .iter()
        .filter(|s| s.thread_id == thread && s.kind == "assistant_message")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_waits_for_every_turn_detached_ones_included() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let grace = 15.0;
    let Some((database, model, mut service)) = setup(
        Pace::lasting(secs(4.0), 16),
        &[("SHUTDOWN_GRACE_SECS", "15")],
    )
    .await
    else {
        return;
    };
    let ep = service.endpoint();
    let connected = students("term-long-c", 5);
    let detached = students("term-long-d", 5);
    let mut f = Findings::new("6a sigterm-long-grace");
    let t0 = Instant::now();

    // Act: the connected turns start first; the detached ones start 1 s later, so they outlive
    // every open connection, and their students close the page after two deltas.
    let staying = start_turns(&ep, &connected, t0, None);
    let leaving = start_turns(&ep, &detached, t0 + secs(1.0), Some(2));
    sleep_until(t0 + secs(2.0)).await;
    let term_at = Instant::now();
    service.sigterm();
    let mut turns = joined(staying).await;
    turns.extend(joined(leaving).await);
    let exited = service.wait_exit(secs(grace + 5.0)).await;
    let exit_after = term_at.elapsed();
    let (stored, _) = read_store(&database).await;
    service.restart().await;
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(5.0)).await;

    // Assert
    f.note(tally(&turns));
    f.note(format!("exit {exited:?} {exit_after:?} after SIGTERM"));
    f.check(exited.is_some() && exit_after <= secs(grace + 2.0), || {
        format!("the process did not exit by itself within the grace ({exit_after:?})")
    });
    for t in turns.iter().filter(|t| !t.hung_up) {
        f.check(t.answered(), || {
            format!("a connected stream did not get its answer: {}", t.summary())
        });
    }
    f.check(threads.len() == connected.len() + detached.len(), || {
        format!("only {} threads were created", threads.len())
    });
    let complete = model.answers();
    for (user, thread) in &threads {
        let answers = answers_of(&stored, thread);
        f.check(
            answers.len() == 1 && !answers[0].interrupted && complete.contains(&answers[0].text),
            || {
                format!(
                    "thread {thread} of {user} holds {answers:?} instead of one complete answer"
                )
            },
        );
    }
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(5.0));
    let (stored, _) = read_store(&database).await;
    audit_turns(&mut f, &all, &stored, &model.answers(), Rules::STRICT);
    audit_api(&mut f, &ep, &threads, &stored).await;
    f.finish(&[&service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_shorter_than_a_turn_ends_streams_with_the_partial_answer() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let grace = 2.0;
    let Some((database, model, mut service)) = setup(
        Pace::lasting(secs(8.0), 32),
        &[("SHUTDOWN_GRACE_SECS", "2")],
    )
    .await
    else {
        return;
    };
    let ep = service.endpoint();
    let users = students("term-short", 8);
    let mut f = Findings::new("6b sigterm-short-grace");
    let t0 = Instant::now();

    // Act
    let tasks = start_turns(&ep, &users, t0, None);
    sleep_until(t0 + secs(2.0)).await;
    let term_at = Instant::now();
    service.sigterm();
    let turns = joined(tasks).await;
    let exited = service.wait_exit(secs(grace + 5.0)).await;
    let exit_after = term_at.elapsed();
    let (stored, _) = read_store(&database).await;
    service.restart().await;
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(5.0)).await;

    // Assert
    f.note(tally(&turns));
    f.note(format!("exit {exited:?} {exit_after:?} after SIGTERM"));
    f.check(exited.is_some() && exit_after <= secs(grace + 3.0), || {
        format!("the process did not exit within the grace ({exit_after:?})")
    });
    for t in &turns {
        let Some(thread) = &t.thread_id else { continue };
        let answers = answers_of(&stored, thread);
        let seen = t.streamed.trim_end();
        f.check(
            answers.len() == 1 && answers[0].interrupted && answers[0].text.starts_with(seen),
            || {
                format!(
                    "thread {thread}: the student saw {} deltas; stored {answers:?}, not one interrupted answer holding what was seen",
                    t.deltas
                )
            },
        );
    }
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(5.0));
    let (stored, _) = read_store(&database).await;
    audit_turns(&mut f, &all, &stored, &model.answers(), Rules::STRICT);
    audit_api(&mut f, &ep, &threads, &stored).await;
    f.finish(&[&service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_turn_then_restart_serves_every_thread_at_once() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let replica = format!(
        "fm-replica-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let Some((database, model, mut service)) =
        setup(Pace::lasting(secs(8.0), 32), &[("REPLICA_ID", &replica)]).await
    else {
        return;
    };
    let ep = service.endpoint();
    let users = students("kill", 10);
    let mut f = Findings::new("7 sigkill");
    let t0 = Instant::now();

    // Act
    let tasks = start_turns(&ep, &users, t0, None);
    sleep_until(t0 + secs(2.5)).await;
    service.sigkill();
    let turns = joined(tasks).await;
    let killed = service.wait_exit(secs(5.0)).await;
    let restart_at = Instant::now();
    service.restart().await;
    f.note(format!("restart took {:?}", restart_at.elapsed()));
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(5.0)).await;
    let (stored, _) = read_store(&database).await;

    // Assert
    f.check(killed.is_some(), || {
        "SIGKILL did not end the process".into()
    });
    f.note(tally(&turns));
    let first_refused = probes
        .iter()
        .filter(|p| p.attempts.first().is_some_and(|t| t.status == Some(409)))
        .count();
    f.note(format!(
        "{first_refused} threads answered 409 to the first turn after the restart"
    ));
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(5.0));
    let rules = Rules {
        also_allowed: &[],
        broken_streams_ok: true,
    };
    audit_turns(&mut f, &all, &stored, &model.answers(), rules);
    audit_api(&mut f, &ep, &threads, &stored).await;
    f.finish(&[&service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_503_and_connection_close_on_an_open_connection() {
    // Arrange: SQLite, one long turn keeps the service draining
    let _turn = crate::harness::shared().await;
    let model = FakeModel::start(Pace::lasting(secs(4.0), 16)).await;
    let mut env = base_env(&model);
    env.extend(pairs(&[("SHUTDOWN_GRACE_SECS", "10")]));
    let mut service = Service::start("drain", env).await;
    let ep = service.endpoint();
    let users = students("drain", 1);
    let mut f = Findings::new("6c sigterm-open-connection");
    let mut conn = KeepAlive::open(service.addr)
        .await
        .expect("keep-alive connection");
    let before = conn.get("/v1/threads?limit=1", &users[0]).await;
    let turn = start_turns(&ep, &users, Instant::now(), None);
    tokio::time::sleep(secs(1.0)).await;

    // Act
    service.sigterm();
    tokio::time::sleep(secs(0.5)).await;
    let draining = conn.get("/v1/threads?limit=1", &users[0]).await;
    let turns = joined(turn).await;
    let exited = service.wait_exit(secs(15.0)).await;

    // Assert
    f.check(before.as_ref().is_ok_and(|h| h.status == 200), || {
        format!("keep-alive request before SIGTERM: {before:?}")
    });
    f.note(format!("while draining: {draining:?}"));
    f.check(
        draining
            .as_ref()
            .is_ok_and(|h| h.status == 503 && h.header("connection") == Some("close")),
        || format!("a request on an open keep-alive connection while draining got {draining:?}, not 503 + Connection: close"),
    );
    f.check(turns.iter().all(|t| t.answered()), || {
        format!("the running turn did not finish: {}", turns[0].summary())
    });
    f.check(exited.is_some(), || "the service did not exit".into());
    f.finish(&[&service]);
}
