//! ThreadStore on SeaORM (Postgres and SQLite): threads, items, study state and feedback, every
//! query scoped by the caller's user id and every row stamped with the thread's organisation.
//!
//! Writes that touch several rows run in one transaction whose first statement updates the
//! thread row: that proves ownership, serialises concurrent writers of the same thread on
//! Postgres, and takes SQLite's write lock up front (transactions begin `IMMEDIATE`), so a
//! concurrent `delete_thread` either happens before (the write finds nothing) or after (the
//! cascade removes what was written).

pub(super) mod convert;
pub(super) mod entities;
mod keyset;
mod learning;
mod ops;
#[cfg(test)]
mod tests;
mod turns;

use async_trait::async_trait;
use sea_orm::sea_query::{CommonTableExpression, Expr, Func, WithClause};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QuerySelect, QueryTrait, SqlErr,
};

use self::convert::to_micros;
use self::entities::{item, study_state, thread};
use super::now_micros;
use super::{Database, Engine};
use crate::domain::ports::{StoreError, ThreadStore, TurnCommit};
use crate::domain::teach::StudyState;
use crate::domain::thread::{FeedbackKind, Page, PageRequest, Thread, ThreadItem};

/// [`ThreadStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlThreadStore {
    db: Database,
}

impl SqlThreadStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, see [`super::txn`]).
    async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        super::txn::begin_with(&self.db, ops::store_err("begin transaction")).await
    }
}

/// The row of a new thread (`updated_at` = `created_at`).
fn thread_row(t: &Thread) -> Result<thread::ActiveModel, StoreError> {
    let created_at = to_micros(t.created_at);
    Ok(thread::ActiveModel {
        id: Set(t.id.clone()),
        user_id: Set(t.user_id.clone()),
        organization_id: Set(t.organization_id.clone()),
        title: Set(t.title.clone()),
        status: Set(convert::status_text(&t.status)?),
        metadata: Set(t.metadata.clone()),
        created_at: Set(created_at),
        updated_at: Set(created_at),
    })
}

/// Postgres: a new thread and its first item in one statement (`WITH new_thread AS (INSERT
/// INTO threads …) INSERT INTO thread_items …`); both rows are written or neither, and the
/// item's foreign key sees the thread (checked at the statement's end). The item of a thread
/// that did not exist can only collide with an item of another thread: a plain insert, whose
/// key violation (which undoes the thread too) is NotFound, as the guarded upsert answers.
async fn insert_thread_with_item(
    conn: &DatabaseConnection,
    row: thread::ActiveModel,
    t: &Thread,
    first: &ThreadItem,
) -> Result<(), StoreError> {
    let thread_insert = thread::Entity::insert(row).into_query();
    let cte = CommonTableExpression::new()
        .query(thread_insert)
        .table_name("new_thread")
        .to_owned();
    let stmt = ops::item_insert(&t.user_id, t.organization_id.clone(), first)?
        .with(WithClause::new().cte(cte).to_owned());
    match conn.execute(&stmt).await {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(what)) if what.contains("thread_items") => {
                StoreError::NotFound
            }
            _ => ops::store_err("create thread")(e),
        }),
    }
}

#[async_trait]
impl ThreadStore for SqlThreadStore {
    async fn create_thread(&self, t: &Thread) -> Result<(), StoreError> {
        self.db
            .write("create thread", async {
                thread::Entity::insert(thread_row(t)?)
                    .exec_without_returning(self.db.connection())
                    .await
                    .map_err(ops::store_err("create thread"))?;
                Ok(())
            })
            .await
    }

    async fn create_thread_with_item(
        &self,
        t: &Thread,
        first: &ThreadItem,
    ) -> Result<(), StoreError> {
        if first.thread_id != t.id {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "first item {} of thread {} created with thread {}",
                first.id,
                first.thread_id,
                t.id
            )));
        }
        self.db
            .write("create thread with item", async {
                let row = thread_row(t)?;
                let org = t.organization_id.clone();
                if self.db.engine() == Engine::Postgres {
                    // One statement, atomic by itself: no BEGIN and COMMIT round trips.
                    return insert_thread_with_item(self.db.connection(), row, t, first).await;
                }
                let txn = self.begin().await?;
                let result = async {
                    thread::Entity::insert(row)
                        .exec_without_returning(&txn)
                        .await
                        .map_err(ops::store_err("create thread"))?;
                    ops::upsert_item(&txn, &t.user_id, org, first, None, None).await
                }
                .await;
                ops::finish(txn, result).await
            })
            .await
    }

    async fn get_thread(&self, user_id: &str, thread_id: &str) -> Result<Thread, StoreError> {
        self.db
            .read("get thread", async {
                let row = thread::Entity::find_by_id(thread_id)
                    .filter(thread::Column::UserId.eq(user_id))
                    .one(self.db.connection())
                    .await
                    .map_err(ops::store_err("get thread"))?
                    .ok_or(StoreError::NotFound)?;
                convert::thread_from_row(row)
            })
            .await
    }

    async fn list_threads(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Thread>, StoreError> {
        self.db
            .read("list threads", async {
                let conn = self.db.connection();
                let mut select = thread::Entity::find().filter(thread::Column::UserId.eq(user_id));
                if let Some(after) = &page.after {
                    let cursor = ops::thread_after(conn, user_id, after).await?;
                    select = select.filter(keyset::after(
                        thread::Column::CreatedAt,
                        thread::Column::Id,
                        page.order,
                        &cursor,
                    ));
                }
                let rows = keyset::ordered(
                    select,
                    thread::Column::CreatedAt,
                    thread::Column::Id,
                    page.order,
                    page.limit,
                )
                .all(conn)
                .await
                .map_err(ops::store_err("list threads"))?;
                let rows = rows
                    .into_iter()
                    .map(convert::thread_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(keyset::into_page(rows, page.limit, keyset::thread_position))
            })
            .await
    }

    async fn count_threads(&self, user_id: &str) -> Result<u64, StoreError> {
        self.db
            .read("count threads", async {
                // Walks `ix_threads_user_created` alone; the cap keeps the range short.
                let n = thread::Entity::find()
                    .select_only()
                    .expr_as(Func::count(Expr::col(thread::Column::Id)), "n")
                    .filter(thread::Column::UserId.eq(user_id))
                    .into_tuple::<i64>()
                    .one(self.db.connection())
                    .await
                    .map_err(ops::store_err("count threads"))?;
                Ok(n.map_or(0, |n| n.unsigned_abs()))
            })
            .await
    }

    async fn count_items(&self, user_id: &str, thread_id: &str) -> Result<u64, StoreError> {
        self.db
            .read("count items", async {
                // Walks `ix_thread_items_thread_created`; the cap keeps the range short.
                let n = item::Entity::find()
                    .select_only()
                    .expr_as(Func::count(Expr::col(item::Column::Id)), "n")
                    .filter(item::Column::ThreadId.eq(thread_id))
                    .filter(item::Column::UserId.eq(user_id))
                    .into_tuple::<i64>()
                    .one(self.db.connection())
                    .await
                    .map_err(ops::store_err("count items"))?;
                Ok(n.map_or(0, |n| n.unsigned_abs()))
            })
            .await
    }

    async fn save_thread(&self, t: &Thread) -> Result<(), StoreError> {
        self.db
            .write("save thread", async {
                let saved = thread::Entity::update_many()
                    .col_expr(thread::Column::Title, Expr::value(t.title.clone()))
                    .col_expr(
                        thread::Column::Status,
                        Expr::value(convert::status_text(&t.status)?),
                    )
                    .col_expr(thread::Column::Metadata, Expr::value(t.metadata.clone()))
                    .col_expr(thread::Column::UpdatedAt, Expr::value(now_micros()))
                    .filter(thread::Column::Id.eq(t.id.as_str()))
                    .filter(thread::Column::UserId.eq(t.user_id.as_str()))
                    .exec(self.db.connection())
                    .await
                    .map_err(ops::store_err("save thread"))?;
                if saved.rows_affected == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn delete_thread(&self, user_id: &str, thread_id: &str) -> Result<(), StoreError> {
        self.db
            .write("delete thread", async {
                // Items, study state and feedback go with it through ON DELETE CASCADE.
                let deleted = thread::Entity::delete_many()
                    .filter(thread::Column::Id.eq(thread_id))
                    .filter(thread::Column::UserId.eq(user_id))
                    .exec(self.db.connection())
                    .await
                    .map_err(ops::store_err("delete thread"))?;
                if deleted.rows_affected == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn add_item(&self, user_id: &str, it: &ThreadItem) -> Result<(), StoreError> {
        self.db
            .write("add item", async {
                let txn = self.begin().await?;
                // A new item is activity: the thread's `updated_at` moves with it.
                let result = async {
                    let touched = ops::touch_thread(&txn, user_id, &it.thread_id, None).await?;
                    ops::upsert_item(&txn, user_id, touched.org, it, None, None).await
                }
                .await;
                ops::finish(txn, result).await
            })
            .await
    }

    async fn get_item(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<ThreadItem, StoreError> {
        self.db
            .read("get item", async {
                let row = item::Entity::find_by_id(item_id)
                    .filter(item::Column::ThreadId.eq(thread_id))
                    .filter(item::Column::UserId.eq(user_id))
                    .one(self.db.connection())
                    .await
                    .map_err(ops::store_err("get item"))?
                    .ok_or(StoreError::NotFound)?;
                convert::item_from_row(row)
            })
            .await
    }

    async fn list_items(
        &self,
        user_id: &str,
        thread_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ThreadItem>, StoreError> {
        self.db
            .read("list items", async {
                let conn = self.db.connection();
                ops::thread_org(conn, user_id, thread_id).await?;
                let mut select = item::Entity::find()
                    .filter(item::Column::ThreadId.eq(thread_id))
                    .filter(item::Column::UserId.eq(user_id));
                if let Some(after) = &page.after {
                    let cursor = ops::item_after(conn, user_id, thread_id, after).await?;
                    select = select.filter(keyset::after(
                        item::Column::CreatedAt,
                        item::Column::Id,
                        page.order,
                        &cursor,
                    ));
                }
                let rows = keyset::ordered(
                    select,
                    item::Column::CreatedAt,
                    item::Column::Id,
                    page.order,
                    page.limit,
                )
                .all(conn)
                .await
                .map_err(ops::store_err("list items"))?;
                let rows = rows
                    .into_iter()
                    .map(convert::item_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(keyset::into_page(rows, page.limit, keyset::item_position))
            })
            .await
    }

    async fn delete_items_after(
        &self,
        user_id: &str,
        thread_id: &str,
        item_id: &str,
    ) -> Result<u64, StoreError> {
        self.db
            .write("delete items", async {
                let conn = self.db.connection();
                let cursor = ops::item_cursor(conn, user_id, thread_id, item_id).await?;
                let deleted = item::Entity::delete_many()
                    .filter(item::Column::ThreadId.eq(thread_id))
                    .filter(item::Column::UserId.eq(user_id))
                    .filter(keyset::after(
                        item::Column::CreatedAt,
                        item::Column::Id,
                        crate::domain::thread::Order::Asc,
                        &cursor,
                    ))
                    .exec(conn)
                    .await
                    .map_err(ops::store_err("delete items"))?;
                Ok(deleted.rows_affected)
            })
            .await
    }

    async fn load_study_state(
        &self,
        user_id: &str,
        thread_id: &str,
    ) -> Result<Option<StudyState>, StoreError> {
        self.db
            .read("load study state", async {
                let conn = self.db.connection();
                let state = study_state::Entity::find_by_id(thread_id)
                    .filter(study_state::Column::UserId.eq(user_id))
                    .select_only()
                    .column(study_state::Column::State)
                    .into_tuple::<serde_json::Value>()
                    .one(conn)
                    .await
                    .map_err(ops::store_err("load study state"))?;
                match state {
                    Some(json) => convert::state_from_json(json).map(Some),
                    None => {
                        // No state yet is only an answer for a thread the user owns.
                        ops::thread_org(conn, user_id, thread_id).await?;
                        Ok(None)
                    }
                }
            })
            .await
    }

    async fn commit_turn(&self, user_id: &str, turn: &TurnCommit) -> Result<(), StoreError> {
        self.db
            .write("commit turn", self.write_turn(user_id, turn))
            .await
    }

    async fn add_feedback(
        &self,
        user_id: &str,
        thread_id: &str,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<(), StoreError> {
        self.db
            .write(
                "record feedback",
                self.write_feedback(user_id, thread_id, item_ids, kind),
            )
            .await
    }
}
