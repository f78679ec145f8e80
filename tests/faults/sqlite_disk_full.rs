//! Row 1: SQLite (the embedded default) runs out of disk for 5 s during turns.

use std::time::Instant;

use crate::harness::audit::{
    Findings, Rules, audit_api, audit_probes, audit_turns, probe_turns, read_store, readiness_line,
    tally,
};
use crate::harness::client::TurnPlan;
use crate::harness::crowd::{Crowd, probe_threads, students, threads_of, watch_readiness};
use crate::harness::model::{FakeModel, Pace};
use crate::harness::service::{Service, base_env, pairs};
use crate::harness::stores::Tmpfs;
use crate::harness::{secs, sleep_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_disk_full_keeps_every_acknowledged_message_across_a_restart() {
    // Arrange
    let _turn = crate::harness::shared().await;
    let Some(disk) = Tmpfs::mount(32) else { return };
    let model = FakeModel::start(Pace::lasting(secs(1.5), 10)).await;
    let file = disk.path().join("app.sqlite");
    let mut env = base_env(&model);
    env.extend(pairs(&[(
        "DATABASE_URL",
        &format!("sqlite://{}?mode=rwc", file.display()),
    )]));
    let mut service = Service::start("sqlite", env).await;
    let ep = service.endpoint();
    let users = students("disk", 10);
    let t0 = Instant::now();
    let (full_at, freed_at, until) = (t0 + secs(3.0), t0 + secs(8.0), t0 + secs(11.0));
    let mut f = Findings::new("1 sqlite-disk-full");

    // Act: turns throughout; the disk is full from 3 s to 8 s
    let crowd = Crowd::start(
        std::slice::from_ref(&ep),
        &users,
        until,
        TurnPlan::patient(secs(25.0)),
    );
    let readiness = watch_readiness(&ep, secs(0.25), secs(3.0), until + secs(2.0));
    sleep_until(full_at).await;
    let filler = disk.fill("filler");
    sleep_until(freed_at).await;
    std::fs::remove_file(&filler).expect("free the disk");
    let freed = Instant::now();
    let turns = crowd.join().await;
    let polls = readiness.await.expect("readiness poller");
    model.set_pace(Pace::quick());
    let threads = threads_of(&turns);
    let probes = probe_threads(std::slice::from_ref(&ep), &threads, secs(15.0)).await;
    service.sigterm();
    let exited = service.wait_exit(secs(15.0)).await;
    let (stored, _) = read_store(&format!("sqlite://{}?mode=rw", file.display())).await;
    service.restart().await;

    // Assert
    f.note(tally(&turns));
    f.note(format!("readiness: {}", readiness_line(&polls, t0)));
    let during: Vec<_> = polls
        .iter()
        .filter(|p| p.at > full_at + secs(1.0) && p.at < freed_at)
        .collect();
    f.check(during.iter().any(|p| p.status == Some(503)), || {
        "readiness never answered 503 while the disk was full".into()
    });
    f.check(polls.iter().all(|p| p.status != Some(500)), || {
        "readiness answered 500".into()
    });
    let back = polls
        .iter()
        .find(|p| p.at > freed && p.status == Some(200))
        .map(|p| p.at.duration_since(freed));
    f.check(back.is_some_and(|d| d <= secs(5.0)), || {
        format!("readiness not 200 within 5 s of freeing the disk (after {back:?})")
    });
    f.check(exited.is_some(), || {
        "SIGTERM did not stop the service within 15 s".into()
    });
    let mut all = turns.clone();
    all.extend(probe_turns(&probes));
    audit_probes(&mut f, &probes, secs(15.0));
    audit_turns(&mut f, &all, &stored, &model.answers(), Rules::STRICT);
    // After the restart the API serves what the file holds: nothing acknowledged was kept only
    // in an uncommitted transaction.
    audit_api(&mut f, &ep, &threads, &stored).await;
    let fault_turns: Vec<_> = turns
        .iter()
        .filter(|t| t.sent_at >= full_at && t.sent_at < freed_at)
        .cloned()
        .collect();
    f.note(format!("during the fault: {}", tally(&fault_turns)));
    f.note(format!(
        "{} items in the file after the restart",
        stored.len()
    ));
    f.finish(&[&service]);
}
