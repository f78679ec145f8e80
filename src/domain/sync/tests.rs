use chrono::{TimeZone, Utc};

use super::*;

fn lesson(path: &str, outcome: LessonOutcome, minute: u32) -> RunLesson {
    RunLesson {
        path: LessonPath::parse(path).unwrap(),
        outcome,
        attempts: 1,
        error: None,
        task_id: None,
        updated_at: Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 0).unwrap(),
    }
}

fn report(listed: bool, lessons: Vec<RunLesson>) -> RunReport {
    let created = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
    RunReport {
        run: SyncRun {
            id: SyncRunId::generate(),
            scope: SyncScope::Book,
            requested_by: "cli".into(),
            created_at: created,
            listed_at: listed.then_some(created),
            error: None,
            task_id: None,
        },
        lessons,
    }
}

#[test]
fn run_ids_are_hyphenated_uuids_kept_lowercase() {
    let id = SyncRunId::generate();
    assert_eq!(SyncRunId::parse(id.as_str()), Ok(id.clone()));
    let upper = id.as_str().to_uppercase();
    assert_eq!(SyncRunId::parse(&upper).unwrap(), id);
    for bad in [
        "",
        "x",
        "0190c5a4d2b17c3e8f1a2b3c4d5e6f70",
        &format!("{id}0"),
    ] {
        assert_eq!(SyncRunId::parse(bad), Err(InvalidRunId), "{bad}");
    }
}

#[test]
fn a_run_is_queued_until_listed_then_running_until_every_lesson_is_final() {
    assert_eq!(report(false, vec![]).status(), RunStatus::Queued);
    let running = report(
        true,
        vec![
            lesson("a", LessonOutcome::Synced, 1),
            lesson("b", LessonOutcome::Retrying, 2),
        ],
    );
    assert_eq!(running.status(), RunStatus::Running);
    assert_eq!(running.finished_at(), None);
    assert_eq!(running.failures().count(), 1);
    let done = report(
        true,
        vec![
            lesson("a", LessonOutcome::Synced, 1),
            lesson("b", LessonOutcome::Unchanged, 5),
        ],
    );
    assert_eq!(done.status(), RunStatus::Completed);
    assert_eq!(done.finished_at(), Some(done.lessons[1].updated_at));
    let counts = done.counts();
    assert_eq!(counts.len(), LessonOutcome::ALL.len());
    assert_eq!(counts[&LessonOutcome::Synced], 1);
    assert_eq!(counts[&LessonOutcome::Dead], 0);
}

#[test]
fn a_dead_lesson_or_a_failed_listing_fails_the_run() {
    let dead = report(
        true,
        vec![
            lesson("a", LessonOutcome::Synced, 1),
            lesson("b", LessonOutcome::Dead, 2),
        ],
    );
    assert_eq!(dead.status(), RunStatus::Failed);
    let mut unlisted = report(false, vec![]);
    unlisted.run.error = Some("catalog unavailable".into());
    assert_eq!(unlisted.status(), RunStatus::Failed);
    assert!(unlisted.finished_at().is_some());
}

#[test]
fn an_empty_listed_run_is_completed() {
    assert_eq!(report(true, vec![]).status(), RunStatus::Completed);
}

#[test]
fn tasks_round_trip_through_json_and_refuse_a_bad_run_id() {
    let task = SyncTask::Lesson {
        run: SyncRunId::generate(),
        path: LessonPath::parse("a/b").unwrap(),
        version: Some("sha".into()),
    };
    let json = serde_json::to_string(&task).unwrap();
    assert_eq!(serde_json::from_str::<SyncTask>(&json).unwrap(), task);
    let bad = r#"{"task":"list","run":"nope"}"#;
    assert!(serde_json::from_str::<SyncTask>(bad).is_err());
}

#[test]
fn outcome_names_round_trip_and_requesters_are_bounded() {
    for outcome in LessonOutcome::ALL {
        assert_eq!(LessonOutcome::parse(outcome.as_str()), Some(outcome));
    }
    assert_eq!(bound_requester(""), "unknown");
    assert_eq!(bound_requester("a b\nc"), "abc");
    assert_eq!(bound_requester(&"x".repeat(100)).len(), 64);
    assert_eq!(bound_run_error(" \n "), "failed");
}

#[test]
fn a_run_id_tells_when_the_run_started() {
    let before = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    let id = SyncRunId::generate();
    let started = id.started_at().expect("a v7 id holds its time");
    assert!(
        started >= before && started <= chrono::Utc::now(),
        "{started}"
    );
    let v4 = SyncRunId::parse("7d444840-9dc0-41d8-a4b5-1c2b3d4e5f60").unwrap();
    assert_eq!(v4.started_at(), None);
}
