//! UserDataStore on SeaORM (Postgres and SQLite): everything the thread tables hold of one
//! user, for export (`GET /v1/me/export`) and erasure (`DELETE /v1/me`).
//!
//! Rows are read with the thread store's entities and turned into domain values by its own
//! conversions. Erasure counts, then deletes the threads (the schema cascades to items, study
//! states and ratings) in one transaction whose first statement touches every thread of the
//! user: concurrent writers of those threads wait for it on Postgres (SQLite's write lock is
//! taken at `BEGIN IMMEDIATE`), so the counts are what was deleted.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::thread_store::convert;
use super::thread_store::entities::{feedback, item, study_state, thread};
use super::{Database, classify, txn};
use crate::domain::ports::{
    FeedbackRecord, StoreError, ThreadExport, ThreadsErased, UserDataStore,
};

/// Threads whose rows are fetched with one `IN (…)` list (well under every engine's limit of
/// bound parameters).
const CHUNK: usize = 500;

/// [`UserDataStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlUserDataStore {
    db: Database,
}

impl SqlUserDataStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserDataStore for SqlUserDataStore {
    async fn export(
        &self,
        user_id: &str,
        max_threads: u64,
    ) -> Result<Vec<ThreadExport>, StoreError> {
        self.db
            .read("export user data", async {
                let conn = self.db.connection();
                let threads = thread::Entity::find()
                    .filter(thread::Column::UserId.eq(user_id))
                    .order_by_asc(thread::Column::CreatedAt)
                    .order_by_asc(thread::Column::Id)
                    .limit(max_threads)
                    .all(conn)
                    .await
                    .map_err(|e| classify(e, "export threads"))?;
                let mut exports = Vec::with_capacity(threads.len());
                for chunk in threads.chunks(CHUNK) {
                    let ids: Vec<String> = chunk.iter().map(|t| t.id.clone()).collect();
                    let mut parts = Parts::load(conn, user_id, &ids).await?;
                    for row in chunk {
                        let id = row.id.clone();
                        exports.push(ThreadExport {
                            thread: convert::thread_from_row(row.clone())?,
                            items: parts.items.remove(&id).unwrap_or_default(),
                            study_state: parts.states.remove(&id),
                            feedback: parts.feedback.remove(&id).unwrap_or_default(),
                        });
                    }
                }
                Ok(exports)
            })
            .await
    }

    async fn erase(&self, user_id: &str) -> Result<ThreadsErased, StoreError> {
        self.db
            .write("erase user data", async {
                let txn = txn::begin(&self.db).await?;
                let result = erase(&txn, user_id).await;
                txn::finish(txn, result, "erase user data").await
            })
            .await
    }
}

/// Items, study states and ratings of some threads, by thread id.
#[derive(Default)]
struct Parts {
    items: HashMap<String, Vec<crate::domain::thread::ThreadItem>>,
    states: HashMap<String, crate::domain::teach::StudyState>,
    feedback: HashMap<String, Vec<FeedbackRecord>>,
}

impl Parts {
    async fn load(
        conn: &impl ConnectionTrait,
        user_id: &str,
        ids: &[String],
    ) -> Result<Self, StoreError> {
        let mut parts = Parts::default();
        let items = item::Entity::find()
            .filter(item::Column::ThreadId.is_in(ids.iter().cloned()))
            .filter(item::Column::UserId.eq(user_id))
            .order_by_asc(item::Column::CreatedAt)
            .order_by_asc(item::Column::Id)
            .all(conn)
            .await
            .map_err(|e| classify(e, "export items"))?;
        for row in items {
            let thread_id = row.thread_id.clone();
            let it = convert::item_from_row(row)?;
            parts.items.entry(thread_id).or_default().push(it);
        }
        let states = study_state::Entity::find()
            .filter(study_state::Column::ThreadId.is_in(ids.iter().cloned()))
            .filter(study_state::Column::UserId.eq(user_id))
            .all(conn)
            .await
            .map_err(|e| classify(e, "export study states"))?;
        for row in states {
            let state = convert::state_from_json(row.state)?;
            parts.states.insert(row.thread_id, state);
        }
        let ratings = feedback::Entity::find()
            .filter(feedback::Column::ThreadId.is_in(ids.iter().cloned()))
            .filter(feedback::Column::UserId.eq(user_id))
            .order_by_asc(feedback::Column::CreatedAt)
            .order_by_asc(feedback::Column::ItemId)
            .all(conn)
            .await
            .map_err(|e| classify(e, "export ratings"))?;
        for row in ratings {
            let record = FeedbackRecord {
                kind: convert::feedback_from_name(&row.kind)?,
                created_at: convert::from_micros(row.created_at)?,
                item_id: row.item_id,
            };
            parts
                .feedback
                .entry(row.thread_id)
                .or_default()
                .push(record);
        }
        Ok(parts)
    }
}

/// The ids of the threads of `user_id`, as a subquery.
fn threads_of(user_id: &str) -> SelectStatement {
    Query::select()
        .column(thread::Column::Id)
        .from(thread::Entity)
        .and_where(thread::Column::UserId.eq(user_id))
        .to_owned()
}

async fn erase(txn: &DatabaseTransaction, user_id: &str) -> Result<ThreadsErased, StoreError> {
    // Touching every thread first locks them against concurrent writers (see the module doc).
    let threads = thread::Entity::update_many()
        .col_expr(
            thread::Column::UpdatedAt,
            Expr::col(thread::Column::UpdatedAt),
        )
        .filter(thread::Column::UserId.eq(user_id))
        .exec(txn)
        .await
        .map_err(|e| classify(e, "lock threads"))?
        .rows_affected;
    let items = item::Entity::find()
        .filter(item::Column::ThreadId.in_subquery(threads_of(user_id)))
        .count(txn)
        .await
        .map_err(|e| classify(e, "count items"))?;
    let ratings = feedback::Entity::find()
        .filter(feedback::Column::ThreadId.in_subquery(threads_of(user_id)))
        .count(txn)
        .await
        .map_err(|e| classify(e, "count ratings"))?;
    // Items, study states and ratings go with their threads (ON DELETE CASCADE).
    let deleted = thread::Entity::delete_many()
        .filter(thread::Column::UserId.eq(user_id))
        .exec(txn)
        .await
        .map_err(|e| classify(e, "erase threads"))?;
    if deleted.rows_affected != threads {
        tracing::warn!(
            counted = threads,
            deleted = deleted.rows_affected,
            "threads changed while they were erased"
        );
    }
    Ok(ThreadsErased {
        threads: deleted.rows_affected,
        items,
        feedback: ratings,
    })
}
