//! Row 0, the control: the same crowd, proxies and audit with no fault injected must find
//! nothing. When it fails, the harness is wrong, not the service.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_fault_the_audit_finds_nothing() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(database) = fresh_postgres().await else {
        return;
    };
    let Some(redis) = redis_url() else { return };
    let pg = FaultProxy::start(target_of(&database)).await;
    let rd = FaultProxy::start(target_of(&redis)).await;
    let model = FakeModel::start(Pace::lasting(secs(1.0), 8)).await;
    let mut env = base_env(&model);
    env.extend(pairs(&[
        ("DATABASE_URL", &pg.url_for(&database)),
        ("REDIS_URL", &rd.url_for(&redis)),
    ]));
    let mut service = Service::start("control", env).await;
    let ep = service.endpoint();
    let users = students("control", 8);
    let mut f = Findings::new("0 control");

    // Act
    let until = Instant::now() + secs(4.0);
    let crowd = Crowd::start(
        std::slice::from_ref(&ep),
        &users,
        until,
        TurnPlan::patient(secs(20.0)),
    );
    sleep_until(until).await;
    let turns = crowd.join().await;
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(2.0)).await;
    service.sigterm();
    let exited = service.wait_exit(secs(10.0)).await;
    let (stored, _) = read_store(&database).await;

    // Assert
    f.note(tally(&turns));
    f.check(turns.iter().all(|t| t.answered()), || {
        "a turn went unanswered without any fault".into()
    });
    f.check(threads.len() == users.len(), || {
        format!("{} of {} threads created", threads.len(), users.len())
    });
    f.check(exited.is_some_and(|s| s.success()), || {
        format!("SIGTERM with nothing running: {exited:?}")
    });
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(2.0));
    audit_turns(&mut f, &all, &stored, &model.answers(), Rules::STRICT);
    service.restart().await;
    audit_api(&mut f, &ep, &threads, &stored).await;
    f.finish(&[&service]);
}
