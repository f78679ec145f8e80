//! `SyncRunStore` on the SQL adapter: runs, their listed lessons and outcomes, and the list of
//! runs newest first.

use study_mode_api::adapters::sql::sync_runs::SqlSyncRunStore;
use study_mode_api::domain::lesson::LessonPath;
use study_mode_api::domain::ports::{StoreError, SyncRunStore};
use study_mode_api::domain::sync::{
    LessonOutcome, MAX_RUN_ERROR_CHARS, RunStatus, SyncRun, SyncRunId, SyncScope,
};

use super::super::{Fixture, at};
use super::path;

sql_contract!(
    create_then_get_round_trips_and_an_unknown_run_is_none,
    listed_is_idempotent_and_keeps_outcomes,
    set_outcome_then_get_shows_counts,
    a_listing_of_ten_thousand_lessons_is_recorded,
    list_returns_the_newest_runs_first,
    writes_to_an_unknown_run_are_not_found,
    prune_deletes_runs_created_before_the_cutoff_with_their_lessons,
);

/// The run store on the fixture's database.
fn runs(fx: &Fixture) -> SqlSyncRunStore {
    SqlSyncRunStore::new(fx.db.clone())
}

fn run(created: i64) -> SyncRun {
    SyncRun {
        id: SyncRunId::generate(),
        scope: SyncScope::Book,
        requested_by: "cli".to_owned(),
        created_at: at(created),
        listed_at: None,
        error: None,
        task_id: None,
    }
}

/// `(path, task id)` of each of `raws`, the task ids tagged with `tag`.
fn listing(raws: &[&str], tag: &str) -> Vec<(LessonPath, String)> {
    raws.iter()
        .map(|raw| (path(raw), format!("{tag}-{raw}")))
        .collect()
}

async fn create_then_get_round_trips_and_an_unknown_run_is_none(fx: &Fixture) {
    let store = runs(fx);
    let mut full = run(1);
    full.scope = SyncScope::Paths(vec![path("part-1/a"), path("part-2/b")]);
    full.requested_by = "user_42".to_owned();
    full.listed_at = Some(at(2));
    full.error = Some("catalog unreachable".to_owned());
    full.task_id = Some("01J0000000000000000000TASK".to_owned());
    let bare = run(0);

    for r in [&full, &bare] {
        store.create(r).await.expect("run is stored");
        let report = store.get(&r.id).await.expect("loads").expect("exists");
        assert_eq!(&report.run, r, "every field round-trips");
        assert!(report.lessons.is_empty());
    }
    let again = store.create(&bare).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let unknown = SyncRunId::generate();
    assert_eq!(store.get(&unknown).await.expect("query runs"), None);
    store.set_task(&bare.id, "task-1").await.expect("task set");
    let report = store.get(&bare.id).await.expect("loads").expect("exists");
    assert_eq!(report.run.task_id.as_deref(), Some("task-1"));
    assert_eq!(report.status(), RunStatus::Queued);
}

async fn listed_is_idempotent_and_keeps_outcomes(fx: &Fixture) {
    // Arrange
    let store = runs(fx);
    let r = run(0);
    store.create(&r).await.expect("created");
    store
        .listed(&r.id, &listing(&["part-1/c", "part-1/a", "part-1/b"], "t1"))
        .await
        .expect("listed");
    let first = store.get(&r.id).await.expect("loads").expect("exists");
    store
        .set_outcome(&r.id, &path("part-1/b"), LessonOutcome::Synced, 1, None)
        .await
        .expect("outcome set");

    // Act: the listing task ran again, and found one more lesson (and one twice).
    let again = listing(
        &["part-1/a", "part-1/b", "part-1/c", "part-1/d", "part-1/d"],
        "t2",
    );
    store.listed(&r.id, &again).await.expect("listed again");

    // Assert
    let report = store.get(&r.id).await.expect("loads").expect("exists");
    assert_eq!(
        report.run.listed_at, first.run.listed_at,
        "the first listing time stays"
    );
    assert!(report.run.listed_at.is_some());
    let rows: Vec<_> = report
        .lessons
        .iter()
        .map(|l| (l.path.as_str(), l.outcome, l.task_id.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            ("part-1/a", LessonOutcome::Queued, Some("t2-part-1/a")),
            ("part-1/b", LessonOutcome::Synced, Some("t2-part-1/b")),
            ("part-1/c", LessonOutcome::Queued, Some("t2-part-1/c")),
            ("part-1/d", LessonOutcome::Queued, Some("t2-part-1/d")),
        ],
        "sorted by path; outcomes kept, task ids replaced"
    );
    assert_eq!(report.lessons[1].attempts, 1);
    assert_eq!(report.status(), RunStatus::Running);
}

async fn set_outcome_then_get_shows_counts(fx: &Fixture) {
    let store = runs(fx);
    let r = run(0);
    store.create(&r).await.expect("created");
    let raws = ["part-1/a", "part-1/b", "part-1/c", "part-1/d"];
    store
        .listed(&r.id, &listing(&raws, "t"))
        .await
        .expect("listed");
    let long = format!(
        "line one\nline\ttwo {}",
        "x".repeat(2 * MAX_RUN_ERROR_CHARS)
    );
    let outcomes = [
        (raws[0], LessonOutcome::Synced, 1, None),
        (raws[1], LessonOutcome::Unchanged, 1, None),
        (raws[2], LessonOutcome::Dead, 5, Some(long.as_str())),
        (raws[3], LessonOutcome::Retrying, 2, Some("timeout")),
    ];
    for (raw, outcome, attempts, error) in outcomes {
        store
            .set_outcome(&r.id, &path(raw), outcome, attempts, error)
            .await
            .expect("outcome set");
    }

    let report = store.get(&r.id).await.expect("loads").expect("exists");
    let counts = report.counts();
    assert_eq!(counts[&LessonOutcome::Synced], 1);
    assert_eq!(counts[&LessonOutcome::Unchanged], 1);
    assert_eq!(counts[&LessonOutcome::Dead], 1);
    assert_eq!(counts[&LessonOutcome::Retrying], 1);
    assert_eq!(counts[&LessonOutcome::Queued], 0);
    assert_eq!(report.status(), RunStatus::Running);
    let dead = &report.lessons[2];
    assert_eq!(dead.attempts, 5);
    assert_eq!(
        dead.task_id.as_deref(),
        Some("t-part-1/c"),
        "kept by set_outcome"
    );
    let error = dead.error.as_deref().expect("an error");
    assert!(error.chars().count() <= MAX_RUN_ERROR_CHARS, "bounded");
    assert!(!error.contains(['\n', '\t']), "{error:?}");
    assert!(error.starts_with("line one"), "{error:?}");
    assert_eq!(report.lessons[3].error.as_deref(), Some("timeout"));

    store
        .set_outcome(&r.id, &path(raws[3]), LessonOutcome::Synced, 3, None)
        .await
        .expect("outcome set");
    let report = store.get(&r.id).await.expect("loads").expect("exists");
    assert_eq!(report.lessons[3].error, None, "a success clears the error");
    assert_eq!(
        report.status(),
        RunStatus::Failed,
        "final, with one dead lesson"
    );
}

async fn a_listing_of_ten_thousand_lessons_is_recorded(fx: &Fixture) {
    let store = runs(fx);
    let r = run(0);
    store.create(&r).await.expect("created");
    let lessons: Vec<_> = (0..10_000)
        .map(|i| {
            (
                path(&format!("part-{}/lesson-{i:05}", i % 7)),
                format!("task-{i}"),
            )
        })
        .collect();

    store
        .listed(&r.id, &lessons)
        .await
        .expect("listed in batches");
    store.listed(&r.id, &lessons).await.expect("listed again");

    let report = store.get(&r.id).await.expect("loads").expect("exists");
    assert_eq!(report.lessons.len(), 10_000);
    assert_eq!(report.counts()[&LessonOutcome::Queued], 10_000);
    let sorted = report
        .lessons
        .windows(2)
        .all(|w| w[0].path.as_str() < w[1].path.as_str());
    assert!(sorted, "lessons are sorted by path");
}

async fn list_returns_the_newest_runs_first(fx: &Fixture) {
    let store = runs(fx);
    assert!(store.list(10).await.expect("empty").is_empty());
    let (old, new, middle) = (run(0), run(20), run(10));
    for r in [&old, &new, &middle] {
        store.create(r).await.expect("created");
    }
    store
        .listed(&middle.id, &listing(&["part-1/x"], "t"))
        .await
        .expect("listed");

    let ids = |reports: Vec<study_mode_api::domain::sync::RunReport>| {
        reports.into_iter().map(|r| r.run.id).collect::<Vec<_>>()
    };
    let all = store.list(10).await.expect("lists");
    assert_eq!(all[1].lessons.len(), 1, "each run comes with its lessons");
    assert_eq!(
        ids(all),
        [new.id.clone(), middle.id.clone(), old.id.clone()]
    );
    assert_eq!(ids(store.list(0).await.expect("clamped")), [new.id]);
    assert_eq!(store.list(2).await.expect("bounded").len(), 2);
    assert_eq!(store.list(u32::MAX).await.expect("clamped").len(), 3);
}

async fn writes_to_an_unknown_run_are_not_found(fx: &Fixture) {
    let store = runs(fx);
    let unknown = SyncRunId::generate();
    let p = path("part-1/a");
    let results = [
        store.set_task(&unknown, "t").await,
        store.listed(&unknown, &listing(&["part-1/a"], "t")).await,
        store.listed(&unknown, &[]).await,
        store.listing_failed(&unknown, "boom").await,
        store
            .set_outcome(&unknown, &p, LessonOutcome::Synced, 1, None)
            .await,
    ];
    for (i, result) in results.into_iter().enumerate() {
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{i}: {result:?}"
        );
    }
}

async fn prune_deletes_runs_created_before_the_cutoff_with_their_lessons(fx: &Fixture) {
    let store = runs(fx);
    let (old, new) = (run(10), run(20));
    for r in [&old, &new] {
        store.create(r).await.expect("run is stored");
        store
            .listed(&r.id, &listing(&["part-1/a", "part-1/b"], "t"))
            .await
            .expect("listed");
    }

    let gone = store.prune(at(15)).await.expect("prunes");
    let again = store.prune(at(15)).await.expect("prunes again");

    assert_eq!(gone, 1);
    assert_eq!(again, 0, "nothing left before the cutoff");
    assert!(store.get(&old.id).await.expect("reads").is_none());
    let kept = store.get(&new.id).await.expect("reads").expect("kept");
    assert_eq!(kept.lessons.len(), 2, "the newer run keeps its lessons");
}
