//! Row 2: Redis cut, or blackholed, for 6 s while turns run on Postgres.

use std::time::Instant;

use crate::harness::audit::{
    Findings, Rules, audit_api, audit_probes, audit_turns, probe_turns, read_store, tally,
};
use crate::harness::client::TurnPlan;
use crate::harness::crowd::{Crowd, probe_threads, students, threads_of};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::proxy::FaultProxy;
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::{fresh_postgres, redis_url, target_of};
use crate::harness::{secs, sleep_until};

#[derive(Clone, Copy, PartialEq)]
enum Outage {
    Cut,
    Blackhole,
}

async fn redis_outage(row: &str, outage: Outage) {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let Some(redis) = redis_url() else { return };
    let proxy = FaultProxy::start(target_of(&redis)).await;
    let model = FakeModel::start(Pace::lasting(secs(2.0), 10)).await;
    let mut env = base_env(&model);
    env.extend(pairs(&[
        ("DATABASE_URL", &database),
        ("REDIS_URL", &proxy.url_for(&redis)),
    ]));
    let service = Service::start("redis", env).await;
    let ep = service.endpoint();
    let users = students(row, 12);
    let t0 = Instant::now();
    let (down_at, up_at, until) = (t0 + secs(3.0), t0 + secs(9.0), t0 + secs(11.0));
    let mut f = Findings::new(row);

    // Act
    let crowd = Crowd::start(
        std::slice::from_ref(&ep),
        &users,
        until,
        TurnPlan::patient(secs(40.0)),
    );
    sleep_until(down_at).await;
    match outage {
        Outage::Cut => proxy.cut(),
        Outage::Blackhole => proxy.blackhole(),
    }
    sleep_until(up_at).await;
    proxy.restore();
    let turns = crowd.join().await;
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    // "At once": Redis is back, and no lock may outlive the turn that took it.
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(5.0)).await;
    let (stored, _) = read_store(&database).await;

    // Assert
    f.note(tally(&turns));
    let during: Vec<_> = turns
        .iter()
        .filter(|t| t.sent_at >= down_at && t.sent_at < up_at)
        .cloned()
        .collect();
    f.note(format!("turns sent during the outage: {}", tally(&during)));
    // Once the outage is known, a turn must not wait out Redis's 2 s command timeout again.
    for t in turns
        .iter()
        .filter(|t| t.sent_at >= down_at + secs(3.0) && t.sent_at < up_at)
    {
        f.check(t.wait_for_head() <= secs(1.5), || {
            format!(
                "a turn waited {:?} for its answer to start, Redis down for {:?} already",
                t.wait_for_head(),
                t.sent_at.duration_since(down_at)
            )
        });
    }
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(5.0));
    audit_turns(&mut f, &all, &stored, &model.answers(), Rules::STRICT);
    audit_api(&mut f, &ep, &threads, &stored).await;
    f.finish(&[&service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cut_leaves_no_thread_locked_and_loses_nothing() {
    redis_outage("2a redis-cut", Outage::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_blackholed_leaves_no_thread_locked_and_loses_nothing() {
    redis_outage("2b redis-blackhole", Outage::Blackhole).await;
}
