//! Contracts of the `ThreadStore`, `ApiKeyStore`, identity (users, refresh tokens, user data)
//! and book sync (`BookStore`, `SyncRunStore`) ports, run against the SQL adapters on SQLite
//! (always) and on Postgres (when `TEST_DATABASE_URL` is set), each test on a fresh, migrated
//! database.
//!
//! Port contracts take a `&dyn ThreadStore` (or `&dyn ApiKeyStore`); the few SQL contracts that must look at rows the
//! port does not return (organisation, usage, ratings, cascades) take the whole [`Fixture`].

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use study_mode_api::adapters::sql::thread_store::SqlThreadStore;
use study_mode_api::adapters::sql::{Database, migrations};
use study_mode_api::domain::cursor::{self, After};
use study_mode_api::domain::ports::{StoreError, ThreadStore};
use study_mode_api::domain::thread::{
    InferenceOptions, ItemKind, Order, Page, PageRequest, Thread, ThreadItem, ThreadStatus,
    UserContent,
};

use crate::helpers::{fresh_postgres_database, pairs, test_config, test_database_url};

/// A migrated store, the database under it, and the folder a SQLite file lives in.
pub struct Fixture {
    pub store: SqlThreadStore,
    pub db: Database,
    /// The database's URL, to open a second, independent pool on it.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn open(url: &str, dir: Option<tempfile::TempDir>, extra: &[(&str, &str)]) -> Self {
        let vars = pairs(&[("DATABASE_URL", url), ("AUTO_MIGRATE", "false")]);
        // Migrations take two connections on Postgres (lock and work): run them on their own
        // pool, so a test may shrink the store's pool to one.
        let migrator = Database::connect(&test_config(vars.clone()).database)
            .await
            .expect("database opens");
        migrations::run(&migrator).await.expect("migrations apply");
        migrator.close().await;
        let mut vars = vars;
        vars.extend(pairs(extra));
        let db = Database::connect(&test_config(vars).database)
            .await
            .expect("database opens");
        Self {
            store: SqlThreadStore::new(db.clone()),
            db,
            url: url.to_owned(),
            _dir: dir,
        }
    }

    /// Answers a `SELECT` of one integer (a count) written by the test itself.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let conn = self.db.connection();
        let stmt = Statement::from_string(conn.get_database_backend(), sql.to_owned());
        conn.query_one_raw(stmt)
            .await
            .expect("query runs")
            .expect("one row")
            .try_get_by_index::<i64>(0)
            .expect("an integer")
    }

    /// Answers a `SELECT` of one text column, one value per row.
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        let conn = self.db.connection();
        let stmt = Statement::from_string(conn.get_database_backend(), sql.to_owned());
        conn.query_all_raw(stmt)
            .await
            .expect("query runs")
            .iter()
            .map(|row| row.try_get_by_index::<Option<String>>(0).expect("text"))
            .collect()
    }
}

/// A store on a SQLite file in a fresh temporary folder.
pub async fn sqlite() -> Fixture {
    sqlite_with(&[]).await
}

/// A store on a fresh Postgres database, or `None` (with a notice) without `TEST_DATABASE_URL`.
pub async fn postgres() -> Option<Fixture> {
    postgres_with(&[]).await
}

/// [`sqlite`] with extra configuration variables.
pub async fn sqlite_with(extra: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}/store.sqlite?mode=rwc", dir.path().display());
    Fixture::open(&url, Some(dir), extra).await
}

/// [`postgres`] with extra configuration variables.
async fn postgres_with(extra: &[(&str, &str)]) -> Option<Fixture> {
    let admin = test_database_url().await?;
    let url = fresh_postgres_database(&admin).await;
    Some(Fixture::open(&url, None, extra).await)
}

/// Runs `$call` (which may use the fixture `$f`) once per engine, as `<name>::on_sqlite` and
/// `<name>::on_postgres`.
macro_rules! on_each_engine {
    ($name:ident, $f:ident => $call:expr) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                let $f = crate::store::sqlite().await;
                $call.await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some($f) = crate::store::postgres().await else {
                    return;
                };
                $call.await;
            }
        }
    };
}

/// Port contracts: `async fn name(store: &dyn ThreadStore)`.
macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        $( on_each_engine!($name, f => super::$name(&f.store)); )+
    };
}

/// SQL adapter contracts: `async fn name(fx: &Fixture)`.
macro_rules! sql_contract {
    ($($name:ident),+ $(,)?) => {
        $( on_each_engine!($name, f => super::$name(&f)); )+
    };
}

// Declared after the macros, which are then in scope in them.
mod api_keys;
mod book;
mod counts;
mod cursors;
mod faults;
mod identity;
mod items;
mod learning;
mod threads;
mod turn_leases;
mod turns;

/// An arbitrary instant with a non-zero microsecond part.
const BASE_MICROS: i64 = 1_763_800_000_123_457;

/// `BASE_MICROS + offset` microseconds.
pub fn at(offset: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(BASE_MICROS + offset).expect("instant in range")
}

/// A thread of `user` in organisation `org_1`, active, untitled.
pub fn thread(user: &str, id: &str, created: i64) -> Thread {
    Thread {
        id: id.to_owned(),
        user_id: user.to_owned(),
        organization_id: Some("org_1".to_owned()),
        title: None,
        status: ThreadStatus::Active,
        created_at: at(created),
        metadata: json!({ "lesson": "part-1/intro", "mode": "teach" }),
    }
}

/// A visible user message.
pub fn user_msg(thread_id: &str, id: &str, created: i64, text: &str) -> ThreadItem {
    ThreadItem {
        id: id.to_owned(),
        thread_id: thread_id.to_owned(),
        created_at: at(created),
        kind: ItemKind::UserMessage {
            content: vec![UserContent::InputText {
                text: text.to_owned(),
            }],
            quoted_text: None,
            inference_options: InferenceOptions::default(),
            hidden: false,
        },
    }
}

/// A tutor message.
pub fn assistant(thread_id: &str, id: &str, created: i64, text: &str) -> ThreadItem {
    ThreadItem {
        id: id.to_owned(),
        thread_id: thread_id.to_owned(),
        created_at: at(created),
        kind: ItemKind::AssistantMessage {
            text: text.to_owned(),
            interrupted: false,
            citations: Vec::new(),
        },
    }
}

/// Server-only context.
pub fn hidden(thread_id: &str, id: &str, created: i64) -> ThreadItem {
    ThreadItem {
        id: id.to_owned(),
        thread_id: thread_id.to_owned(),
        created_at: at(created),
        kind: ItemKind::HiddenContext {
            content: json!("the student cancelled"),
        },
    }
}

/// A page request.
pub fn page(limit: u32, after: Option<&str>, order: Order) -> PageRequest {
    PageRequest {
        limit,
        after: after.map(str::to_owned),
        order,
    }
}

/// Asserts the cursor protocol of one page and returns the `after` of the next request.
fn next_cursor<T>(page: &Page<T>, limit: u32, id_of: impl Fn(&T) -> &str) -> Option<String> {
    let max = usize::try_from(limit).expect("small limit");
    assert!(page.data.len() <= max, "a page holds at most `limit` rows");
    if page.has_more {
        assert_eq!(page.data.len(), max, "only a full page can have more");
        let after = page.after.as_deref().expect("a cursor when there is more");
        let last = page.data.last().map(id_of).expect("a full page");
        match cursor::parse("after", after) {
            Ok(After::Position(position)) => {
                assert_eq!(position.id, last, "`after` stops at the last row");
            }
            other => panic!("`after` is an opaque cursor, got {after:?}: {other:?}"),
        }
    } else {
        assert_eq!(page.after, None, "no cursor on the last page");
    }
    page.after.clone()
}

/// Walks every page of `user`'s threads and returns the ids in the order served.
pub async fn walk_threads(
    store: &dyn ThreadStore,
    user: &str,
    limit: u32,
    order: Order,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let p = store
            .list_threads(user, &page(limit, after.as_deref(), order))
            .await
            .expect("page loads");
        ids.extend(p.data.iter().map(|t| t.id.clone()));
        after = next_cursor(&p, limit, |t| t.id.as_str());
        if after.is_none() {
            return ids;
        }
    }
    panic!("pagination did not end");
}

/// Walks every page of a thread's items and returns the ids in the order served.
pub async fn walk_items(
    store: &dyn ThreadStore,
    user: &str,
    thread_id: &str,
    limit: u32,
    order: Order,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let p = store
            .list_items(user, thread_id, &page(limit, after.as_deref(), order))
            .await
            .expect("page loads");
        ids.extend(p.data.iter().map(|i| i.id.clone()));
        after = next_cursor(&p, limit, |i| i.id.as_str());
        if after.is_none() {
            return ids;
        }
    }
    panic!("pagination did not end");
}

/// Asserts that `result` is `StoreError::NotFound`.
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

/// With its only connection taken, a store call gives up after the acquire timeout.
async fn a_call_without_a_free_connection_is_unavailable(fx: Fixture) {
    use sea_orm::TransactionTrait;
    fx.store
        .create_thread(&thread("alice", "thr_1", 0))
        .await
        .expect("created");
    let held = fx
        .db
        .connection()
        .begin()
        .await
        .expect("the only connection");
    let result = fx.store.get_thread("alice", "thr_1").await;
    assert!(matches!(result, Err(StoreError::Unavailable)), "{result:?}");
    held.rollback().await.expect("released");
    fx.store
        .get_thread("alice", "thr_1")
        .await
        .expect("served again once a connection is free");
}

const ONE_CONNECTION: &[(&str, &str)] = &[
    ("DB_MAX_CONNECTIONS", "1"),
    ("DB_MIN_CONNECTIONS", "1"),
    ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
];

#[tokio::test]
async fn a_call_without_a_free_connection_is_unavailable_on_sqlite() {
    a_call_without_a_free_connection_is_unavailable(sqlite_with(ONE_CONNECTION).await).await;
}

#[tokio::test]
async fn a_call_without_a_free_connection_is_unavailable_on_postgres() {
    if let Some(fx) = postgres_with(ONE_CONNECTION).await {
        a_call_without_a_free_connection_is_unavailable(fx).await;
    }
}
