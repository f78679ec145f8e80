//! Database faults seen through the SQL store: a transaction the database aborted by itself
//! must not leave its connection inside a transaction for later writes; one request waits at
//! most one acquire timeout; readiness tells "busy" from "cannot commit".

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use study_mode_api::adapters::sql::Database;
use study_mode_api::domain::ports::{Pingable, StoreError, ThreadStore, TurnCommit};
use study_mode_api::wait_budget;
use tokio::sync::oneshot;

use super::{Fixture, assistant, sqlite_with, thread, user_msg};
use crate::helpers::{pairs, test_config};

async fn exec(db: &Database, sql: &str) {
    let conn = db.connection();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect("statement runs");
}

async fn count(db: &Database, sql: &str) -> i64 {
    let conn = db.connection();
    conn.query_one_raw(Statement::from_string(
        conn.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect("query runs")
    .expect("one row")
    .try_get_by_index::<i64>(0)
    .expect("an integer")
}

/// A second pool on the fixture's database, sharing nothing with the store's.
async fn fresh_pool(fx: &Fixture) -> Database {
    let vars = pairs(&[("DATABASE_URL", fx.url.as_str()), ("AUTO_MIGRATE", "false")]);
    Database::connect(&test_config(vars).database)
        .await
        .expect("database opens")
}

fn answer_turn(thread_id: &str, item_id: &str) -> TurnCommit {
    TurnCommit {
        thread_id: thread_id.to_owned(),
        items: vec![assistant(thread_id, item_id, 1, "the answer")],
        state: None,
        title: None,
        usage: None,
    }
}

/// On disk full or an I/O error SQLite may roll a transaction back by itself, so the ROLLBACK
/// that follows fails and sqlx still counts the connection as inside a transaction. A trigger
/// raising `ROLLBACK` puts the connection in exactly that state on demand.
#[tokio::test]
async fn writes_after_a_transaction_sqlite_aborted_by_itself_are_committed() {
    // Arrange: one connection, so every write below reuses the one that saw the failure.
    let fx = sqlite_with(&[("DB_MAX_CONNECTIONS", "1"), ("DB_MIN_CONNECTIONS", "1")]).await;
    exec(
        &fx.db,
        "CREATE TRIGGER abort_item AFTER INSERT ON thread_items WHEN NEW.id = 'msg_doomed' \
         BEGIN SELECT RAISE(ROLLBACK, 'simulated disk full'); END",
    )
    .await;
    fx.store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");

    // Act: the aborted transaction, a write refused (its rollback is what used to leave the
    // real transaction open), then ordinary writes.
    let aborted = fx
        .store
        .commit_turn("alice", &answer_turn("thr_1", "msg_doomed"))
        .await;
    let refused = fx
        .store
        .add_item("alice", &user_msg("thr_missing", "msg_x", 2, "lost"))
        .await;
    fx.store
        .add_item("alice", &user_msg("thr_1", "msg_after", 3, "kept"))
        .await
        .expect("added");
    fx.store
        .create_thread(&thread("alice", "thr_2", 4))
        .await
        .expect("created");
    fx.store
        .commit_turn("alice", &answer_turn("thr_2", "msg_answer"))
        .await
        .expect("committed");

    // Assert: a separate pool (another connection) sees every acknowledged write.
    assert!(aborted.is_err(), "{aborted:?}");
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let other = fresh_pool(&fx).await;
    assert_eq!(count(&other, "SELECT count(*) FROM threads").await, 2);
    assert_eq!(
        count(
            &other,
            "SELECT count(*) FROM thread_items WHERE id IN ('msg_after', 'msg_answer')"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &other,
            "SELECT count(*) FROM thread_items WHERE id = 'msg_doomed'"
        )
        .await,
        0
    );
}

/// Waits until the pool's only connection is back and idle, so readiness borrows that one
/// (the read-only switch below is a setting of that connection).
async fn idle_again(db: &Database) {
    for _ in 0..200 {
        if db.pool_stats().idle == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the connection never came back to the pool");
}

/// A store on one connection that gives up waiting for it after 2 s.
async fn one_slow_connection() -> Fixture {
    sqlite_with(&[
        ("DB_MAX_CONNECTIONS", "1"),
        ("DB_MIN_CONNECTIONS", "1"),
        ("DB_ACQUIRE_TIMEOUT_SECS", "2"),
    ])
    .await
}

#[tokio::test]
async fn one_request_waits_at_most_one_acquire_timeout_however_many_calls_it_makes() {
    // Arrange: a store call holds the only connection.
    let fx = one_slow_connection().await;
    let (held_tx, held_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let db = fx.db.clone();
    let holder = tokio::spawn(async move {
        db.read("hold the connection", async {
            let _ = held_tx.send(());
            let _ = release_rx.await;
            Ok(())
        })
        .await
    });
    held_rx.await.expect("connection held");
    let started = Instant::now();
    // Act: three calls of one request.
    let results = wait_budget::scope(async {
        vec![
            fx.store.get_thread("alice", "thr_1").await.map(drop),
            fx.store.count_threads("alice").await.map(drop),
            fx.store.load_study_state("alice", "thr_1").await.map(drop),
        ]
    })
    .await;
    let waited = started.elapsed();
    // Assert: one acquire timeout (2 s) in all, not one per call (6 s).
    for result in &results {
        assert!(matches!(result, Err(StoreError::Unavailable)), "{result:?}");
    }
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    let _ = release_tx.send(());
    holder.await.expect("holder ends").expect("holder's call");
    assert_eq!(fx.store.count_threads("alice").await.expect("served"), 0);
}

#[tokio::test]
async fn readiness_stays_up_while_every_connection_is_busy() {
    // Arrange: the only connection is inside a long transaction.
    let fx = one_slow_connection().await;
    let held = fx
        .db
        .connection()
        .begin()
        .await
        .expect("the only connection");
    // Act
    let started = Instant::now();
    let ready = fx.db.ping().await;
    // Assert: busy is not down, and the check did not queue behind the pool.
    assert_eq!(ready, Ok(()));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(fx.db.pool_stats().saturated);
    held.rollback().await.expect("released");
}

#[tokio::test]
async fn readiness_is_down_while_the_database_cannot_commit_and_up_once_it_can() {
    // Arrange: the only connection refuses writes (SQLITE_READONLY), as after a failover.
    let fx = one_slow_connection().await;
    fx.store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    exec(&fx.db, "PRAGMA query_only = ON").await;
    // Act
    let write = fx
        .store
        .add_item("alice", &user_msg("thr_1", "msg_1", 1, "hello"))
        .await;
    let read = fx.store.get_thread("alice", "thr_1").await;
    idle_again(&fx.db).await;
    let while_read_only = fx.db.ping().await;
    exec(&fx.db, "PRAGMA query_only = OFF").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let once_writable = fx.db.ping().await;
    // Assert: the write is a 503-class failure, reads still work, readiness follows commits.
    assert!(matches!(write, Err(StoreError::Unavailable)), "{write:?}");
    assert!(read.is_ok(), "{read:?}");
    assert_eq!(while_read_only, Err("cannot commit".to_owned()));
    assert_eq!(once_writable, Ok(()));
}
