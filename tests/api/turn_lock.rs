//! The turn lock end to end: one turn per thread across replicas while Redis is down, and a
//! restarted replica that serves every thread its previous run left locked.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::json;
use study_mode_api::adapters::sql::Database;

use crate::chatkit_client::{message, spawn_tutor_app_on};
use crate::fake_model::{self, Script};
use crate::helpers::{
    fresh_postgres_database, pairs, target_of, test_config, test_database_url, test_redis_url, via,
};
use crate::proxy::TcpProxy;

fn add_message(thread_id: &str) -> serde_json::Value {
    json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":message("again")}})
}

#[tokio::test]
async fn two_replicas_never_run_turns_of_one_thread_at_once_while_redis_is_down() {
    let (Some(admin), Some(redis)) = (test_database_url().await, test_redis_url().await) else {
        return;
    };
    // Arrange: two replicas on one database, their Redis cut.
    let url = fresh_postgres_database(&admin).await;
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let model = fake_model::start(Script {
        deltas: vec!["One ".into(), "two".into()],
        delay: Duration::from_millis(500),
        ..Script::default()
    })
    .await;
    let redis_via = via(&redis, proxy.addr);
    let base_url = model.base_url();
    let replica = |id: &'static str| {
        [
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", base_url.as_str()),
            ("MODEL_TIMEOUT_SECS", "10"),
            ("REDIS_URL", redis_via.as_str()),
            ("REPLICA_ID", id),
        ]
    };
    let a = spawn_tutor_app_on(&url, &replica("a")).await;
    let b = spawn_tutor_app_on(&url, &replica("b")).await;
    let (thread_id, _) = a.start_thread("student-a", "First").await;
    // B's own first turn loads the lesson into its in-process cache, so that B does not wait
    // on the cut Redis for lesson copies below.
    b.start_thread("student-b", "Hello").await;
    proxy.cut();

    // Act
    let first = a.chatkit_as("student-a", add_message(&thread_id), "").await;
    let second = b.chatkit_as("student-a", add_message(&thread_id), "").await;

    // Assert
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 409, "the other replica refuses");
    let err: serde_json::Value = second.json().await.unwrap();
    assert_eq!(err["error"]["code"], "turn_in_progress");
    first.text().await.unwrap();
    // Once the first turn ended, the thread is free on the other replica too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let next = b.chatkit_as("student-a", add_message(&thread_id), "").await;
        if next.status() == 200 {
            next.text().await.unwrap();
            break;
        }
        assert_eq!(next.status(), 409);
        assert!(
            tokio::time::Instant::now() < deadline,
            "thread still locked after the turn"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_restarted_replica_serves_at_once_the_threads_its_previous_run_left_locked() {
    // Arrange: replica r1 made two threads; then, as if killed mid-turn, r1 held a long lease
    // on the first and another replica r2 one on the second.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/app.sqlite?mode=rwc", dir.path().display());
    let first_run = spawn_tutor_app_on(&url, &[("REPLICA_ID", "r1")]).await;
    let (mine, _) = first_run.start_thread("student-a", "First").await;
    let (theirs, _) = first_run.start_thread("student-a", "Second").await;
    first_run.stop().await.unwrap();
    let db = Database::connect(&test_config(pairs(&[("DATABASE_URL", &url)])).database)
        .await
        .unwrap();
    let hour_ahead = chrono::Utc::now().timestamp_micros() + 3_600_000_000;
    let hex = "0123456789abcdef0123456789abcdef";
    for (thread_id, replica) in [(&mine, "r1"), (&theirs, "r2")] {
        db.connection()
            .execute_unprepared(&format!(
                "UPDATE threads SET turn_owner = '{replica}:{hex}:{hex}', \
                 turn_lease_until = {hour_ahead} WHERE id = '{thread_id}'"
            ))
            .await
            .unwrap();
    }
    db.close().await;

    // Act
    let restarted = spawn_tutor_app_on(&url, &[("REPLICA_ID", "r1")]).await;

    // Assert
    let own = restarted
        .chatkit_as("student-a", add_message(&mine), "")
        .await;
    assert_eq!(
        own.status(),
        200,
        "its own earlier lease was freed at start"
    );
    own.text().await.unwrap();
    let other = restarted
        .chatkit_as("student-a", add_message(&theirs), "")
        .await;
    assert_eq!(other.status(), 409, "another replica's lease is left alone");
}

#[tokio::test]
async fn a_stopped_replica_frees_the_threads_of_turns_still_running() {
    // Arrange: a turn of replica r1 still runs (its student hung up) when r1 is stopped.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/app.sqlite?mode=rwc", dir.path().display());
    let model = fake_model::start(Script {
        deltas: vec!["slow ".into(); 10],
        delay: Duration::from_secs(1),
        ..Script::default()
    })
    .await;
    let r1 = spawn_tutor_app_on(
        &url,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &model.base_url()),
            ("MODEL_TIMEOUT_SECS", "30"),
            ("REPLICA_ID", "r1"),
        ],
    )
    .await;
    let created: serde_json::Value = r1
        .client
        .post(r1.url("/v1/threads"))
        .header("x-user-id", "student-a")
        .json(&json!({"lesson_path": crate::chatkit_client::LESSON}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let thread_id = created["id"].as_str().expect("thread id").to_owned();
    let running = r1
        .chatkit_as("student-a", add_message(&thread_id), "")
        .await;
    assert_eq!(running.status(), 200);
    drop(running);

    // Act
    r1.stop().await.unwrap();

    // Assert: another replica (so no start-up reclaim helps) takes the thread at once.
    let r2 = spawn_tutor_app_on(&url, &[("REPLICA_ID", "r2")]).await;
    let next = r2
        .chatkit_as("student-a", add_message(&thread_id), "")
        .await;
    assert_eq!(next.status(), 200, "the stopped replica released its lease");
    next.text().await.unwrap();
}

/// The statement that takes a turn's lease can reach the database and run while its answer is
/// lost (the connection breaks in between): the student gets a 503, and the thread must not
/// then stay locked by a lease nobody holds (every next turn 409 until it expires).
#[tokio::test]
async fn a_lease_taken_whose_answer_was_lost_does_not_lock_the_thread() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    // Arrange: Postgres through a proxy, in plain text (the proxy looks for the lease's token);
    // leases far longer than the test.
    let url = fresh_postgres_database(&admin).await;
    let proxy = TcpProxy::start(target_of(&url)).await;
    let replica = "lost-answer-replica";
    let plain = format!("{}?sslmode=disable", via(&url, proxy.addr));
    let app = spawn_tutor_app_on(
        &plain,
        &[
            ("REPLICA_ID", replica),
            ("TURN_LEASE_SECS", "120"),
            ("DB_STATEMENT_TIMEOUT_MS", "500"),
            ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let (thread_id, _) = app.start_thread("student-l", "First").await;
    let db = Database::connect(&test_config(pairs(&[("DATABASE_URL", &url)])).database)
        .await
        .unwrap();
    assert_eq!(
        lease_of(&db, &thread_id).await,
        None,
        "the first turn's lease is gone"
    );

    // Act: the next statement carrying a lease token of this replica (the one that takes the
    // lease of the next turn) runs, and its answer never comes back.
    proxy.lose_answer_to(format!("{replica}:").as_bytes());
    let refused = app
        .chatkit_as("student-l", add_message(&thread_id), "")
        .await;
    assert_eq!(refused.status(), 503, "the lease's outcome is unknown");

    // Assert: the thread takes its next turn (no 409 on the way), and afterwards no lease is
    // left on it.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let resp = app
            .chatkit_as("student-l", add_message(&thread_id), "")
            .await;
        let status = resp.status().as_u16();
        resp.text().await.unwrap();
        statuses.push(status);
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert!(!statuses.contains(&409), "{statuses:?}");
    assert_eq!(
        lease_of(&db, &thread_id).await,
        None,
        "every lease of the thread was released"
    );
}

/// The lease on `thread_id` once its releases under way are done (up to 4 s): its owner token.
async fn lease_of(db: &Database, thread_id: &str) -> Option<String> {
    let mut owner = None;
    for _ in 0..40 {
        let row = db
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT turn_owner FROM threads WHERE id = '{thread_id}'"),
            ))
            .await
            .unwrap()
            .expect("the thread");
        owner = row.try_get::<Option<String>>("", "turn_owner").unwrap();
        if owner.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    owner
}
