//! Rows 3–5: Postgres cut, reset repeatedly, and blackholed while answers stream.

use std::time::Instant;

use crate::harness::audit::{
    Findings, Rules, audit_api, audit_probes, audit_turns, probe_turns, read_store, readiness_line,
    tally,
};
use crate::harness::client::{Turn, TurnPlan};
use crate::harness::crowd::{
    Crowd, probe_threads, read_loops, students, threads_of, watch_readiness,
};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::proxy::FaultProxy;
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::{fresh_postgres, target_of};
use crate::harness::{secs, sleep_until};

/// A service on a fresh database reached through a proxy, with `extra` variables.
struct Setup {
    database: String,
    proxy: FaultProxy,
    model: FakeModel,
    service: Service,
}

async fn setup(pace: Pace, extra: &[(&str, &str)]) -> Option<Setup> {
    let database = fresh_postgres().await?;
    let proxy = FaultProxy::start(target_of(&database)).await;
    let model = FakeModel::start(pace).await;
    let mut env = base_env(&model);
    env.extend(pairs(&[("DATABASE_URL", &proxy.url_for(&database))]));
    env.extend(pairs(extra));
    let service = Service::start("postgres", env).await;
    Some(Setup {
        database,
        proxy,
        model,
        service,
    })
}

/// Every answer that streamed in full was stored (ended with `thread.item.done`): the
/// database came back well within the turn's deadline (`MODEL_TIMEOUT_SECS`, 30 s), so a
/// commit retried with backoff succeeds.
fn audit_commit_retried(f: &mut Findings, turns: &[Turn], answers: &[String]) {
    for t in turns {
        let whole = answers.iter().any(|a| a == t.streamed.trim_end());
        f.check(!whole || t.answered(), || {
            format!(
                "answer streamed in full but not stored although the database returned within the turn's deadline (commit not retried): {}",
                t.summary()
            )
        });
    }
}

/// Probes, audits and notes shared by the Postgres rows.
async fn audit_after(f: &mut Findings, s: &Setup, turns: &[Turn], fault: (Instant, Instant)) {
    let ep = s.service.endpoint();
    s.model.set_pace(Pace::quick());
    let threads = threads_of(turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(10.0)).await;
    let (stored, _) = read_store(&s.database).await;
    f.note(tally(turns));
    let during: Vec<Turn> = turns
        .iter()
        .filter(|t| t.sent_at >= fault.0 && t.sent_at < fault.1)
        .cloned()
        .collect();
    f.note(format!("turns sent during the fault: {}", tally(&during)));
    // Not a failure by itself (the stream said so), but what the commit retry should bring down.
    let streamed_not_stored = turns
        .iter()
        .filter(|t| t.user_ack.is_some() && !t.answered() && !t.errors.is_empty() && t.deltas > 0)
        .count();
    f.note(format!(
        "{streamed_not_stored} answers streamed but ended with an error event instead of thread.item.done"
    ));
    let mut all = turns.to_vec();
    all.extend(probe_turns(&probes));
    audit_probes(f, &probes, secs(10.0));
    audit_turns(f, &all, &stored, &s.model.answers(), Rules::STRICT);
    audit_api(f, &ep, &threads, &stored).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cut_stores_every_finished_answer_or_says_so() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(s) = setup(
        Pace::lasting(secs(3.0), 12),
        &[("DB_ACQUIRE_TIMEOUT_SECS", "2")],
    )
    .await
    else {
        return;
    };
    let users = students("pgcut", 12);
    let t0 = Instant::now();
    let (cut_at, back_at, until) = (t0 + secs(3.0), t0 + secs(11.0), t0 + secs(14.0));
    let mut f = Findings::new("3 postgres-cut");

    // Act
    let crowd = Crowd::start(
        &[s.service.endpoint()],
        &users,
        until,
        TurnPlan::patient(secs(45.0)),
    );
    sleep_until(cut_at).await;
    s.proxy.cut();
    sleep_until(back_at).await;
    s.proxy.restore();
    let turns = crowd.join().await;

    // Assert
    audit_commit_retried(&mut f, &turns, &s.model.answers());
    audit_after(&mut f, &s, &turns, (cut_at, back_at)).await;
    f.finish(&[&s.service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_connection_resets_lose_nothing_and_never_answer_500() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(s) = setup(
        Pace::lasting(secs(2.0), 10),
        &[("DB_ACQUIRE_TIMEOUT_SECS", "2")],
    )
    .await
    else {
        return;
    };
    let users = students("pgreset", 12);
    let t0 = Instant::now();
    let (first, last, until) = (t0 + secs(3.0), t0 + secs(9.0), t0 + secs(12.0));
    let mut f = Findings::new("4 postgres-reset");

    // Act: every open connection is reset once a second for 6 s
    let crowd = Crowd::start(
        &[s.service.endpoint()],
        &users,
        until,
        TurnPlan::patient(secs(45.0)),
    );
    sleep_until(first).await;
    while Instant::now() < last {
        s.proxy.reset();
        tokio::time::sleep(secs(1.0)).await;
    }
    let turns = crowd.join().await;

    // Assert
    audit_commit_retried(&mut f, &turns, &s.model.answers());
    audit_after(&mut f, &s, &turns, (first, last)).await;
    f.finish(&[&s.service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_blackholed_bounds_every_request_and_answers_503() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let model_time = secs(2.0);
    let Some(s) = setup(
        Pace::lasting(model_time, 10),
        &[
            ("DB_ACQUIRE_TIMEOUT_SECS", "2"),
            ("DB_STATEMENT_TIMEOUT_MS", "1000"),
        ],
    )
    .await
    else {
        return;
    };
    let ep = s.service.endpoint();
    let users = students("pghole", 10);
    let t0 = Instant::now();
    let (hole_at, back_at, until) = (t0 + secs(3.0), t0 + secs(13.0), t0 + secs(15.0));
    // acquire (2 s) + statement (1 s) + a few seconds
    let bound = secs(8.0);
    let mut f = Findings::new("5 postgres-blackhole");

    // Act: the client gives up after 25 s, so a hang shows as a timeout instead of a stuck test
    let crowd = Crowd::start(
        std::slice::from_ref(&ep),
        &users,
        until,
        TurnPlan::patient(secs(25.0)),
    );
    let readiness = watch_readiness(&ep, secs(0.5), secs(20.0), until);
    let reads = read_loops(&ep, &users[..4], until);
    sleep_until(hole_at).await;
    s.proxy.blackhole();
    sleep_until(back_at).await;
    s.proxy.restore();
    let turns = crowd.join().await;
    let polls = readiness.await.expect("readiness poller");
    let reads = reads.await.expect("read loops");

    // Assert
    f.note(format!("readiness: {}", readiness_line(&polls, t0)));
    let slowest_read = reads.iter().map(|r| r.took).max().unwrap_or_default();
    f.note(format!("{} reads; slowest {slowest_read:?}", reads.len()));
    for r in &reads {
        f.check(r.took <= bound && r.transport.is_none(), || {
            format!(
                "a read hung: {:?} after {:?} ({:?})",
                r.status, r.took, r.transport
            )
        });
        f.check(matches!(r.status, Some(200) | Some(503)), || {
            format!("a read got {:?}: {}", r.status, r.body)
        });
        f.check(r.status != Some(503) || r.retry_after.is_some(), || {
            "a 503 read without Retry-After".into()
        });
    }
    let slowest_ready = polls.iter().map(|p| p.took).max().unwrap_or_default();
    f.note(format!("slowest readiness answer {slowest_ready:?}"));
    f.check(slowest_ready <= bound, || {
        format!("a readiness check took {slowest_ready:?} (bound {bound:?})")
    });
    f.check(
        polls
            .iter()
            .any(|p| p.at > hole_at + secs(1.0) && p.at < back_at && p.status == Some(503)),
        || "readiness never answered 503 while Postgres was blackholed".into(),
    );
    for t in &turns {
        f.check(!t.timed_out && t.wait_for_head() <= bound, || {
            format!("request hung: {}", t.summary())
        });
    }
    // A stream may outlast the bound while its final write is retried within the turn's
    // deadline; the client's 25 s timeout catches one that hangs.
    let longest = turns.iter().map(Turn::duration).max().unwrap_or_default();
    f.note(format!("longest turn {longest:?}"));
    audit_after(&mut f, &s, &turns, (hole_at, back_at)).await;
    f.finish(&[&s.service]);
}
