//! Database faults seen through the SQL store: a transaction the database aborted by itself
//! must not leave its connection inside a transaction for later writes.

use sea_orm::{ConnectionTrait, Statement};
use study_mode_api::adapters::sql::Database;
use study_mode_api::domain::ports::{StoreError, ThreadStore, TurnCommit};

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
