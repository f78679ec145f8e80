//! Statements shared by several store methods: ownership-checked thread touch, guarded item
//! upsert, study state upsert, item cursors, and the error and transaction plumbing.

use sea_orm::sea_query::{Expr, InsertStatement, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect, QueryTrait, SqlErr,
};

use super::convert::{self, to_micros};
use super::entities::{item, study_state, thread};
use super::keyset::Cursor;
use crate::adapters::sql::classify;
use crate::adapters::sql::now_micros;
use crate::domain::cursor::{self, After};
use crate::domain::ports::StoreError;
use crate::domain::teach::StudyState;
use crate::domain::thread::{ThreadItem, Usage};

/// Maps a driver error; a foreign key violation means a parent row vanished meanwhile.
pub(super) fn store_err(action: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match err.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound,
        _ => classify(err, action),
    }
}

/// Commits `result`'s transaction when it is Ok, rolls it back otherwise.
pub(super) async fn finish<T>(
    txn: DatabaseTransaction,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    super::super::txn::finish_with(txn, result, "thread store write", store_err("commit")).await
}

/// What a touched thread row says about itself: its organisation (stamped on the rows written
/// with it) and its server metadata (the lesson a turn's state is recorded under).
pub(super) struct Touched {
    pub(super) org: Option<String>,
    pub(super) metadata: serde_json::Value,
}

/// Bumps `updated_at` (and sets the title when given) of a thread of `user_id`, returning its
/// organisation and metadata in the same statement (`UPDATE … RETURNING`); NotFound when the
/// user has no such thread.
pub(super) async fn touch_thread(
    txn: &DatabaseTransaction,
    user_id: &str,
    thread_id: &str,
    title: Option<&str>,
) -> Result<Touched, StoreError> {
    let mut update = Query::update();
    update
        .table(thread::Entity)
        .value(thread::Column::UpdatedAt, now_micros())
        .and_where(Expr::col(thread::Column::Id).eq(thread_id))
        .and_where(Expr::col(thread::Column::UserId).eq(user_id))
        .returning(
            Query::returning().columns([thread::Column::OrganizationId, thread::Column::Metadata]),
        );
    if let Some(title) = title {
        update.value(thread::Column::Title, title);
    }
    let row = txn
        .query_one(&update)
        .await
        .map_err(store_err("touch thread"))?
        .ok_or(StoreError::NotFound)?;
    let read = store_err("read touched thread");
    Ok(Touched {
        org: row
            .try_get::<Option<String>>("", "organization_id")
            .map_err(read)?,
        metadata: row
            .try_get::<serde_json::Value>("", "metadata")
            .map_err(store_err("read touched thread"))?,
    })
}

/// Inserts `it`, or replaces the row with its id when that row is in the same thread of the
/// same user (keeping `created_at`, hence its position); NotFound when the id is taken by an item
/// of another thread. Token columns are written only when `usage` is given, the section (the
/// lesson chunk a tutor message is about) only when `section` is.
pub(super) async fn upsert_item(
    txn: &DatabaseTransaction,
    user_id: &str,
    org: Option<String>,
    it: &ThreadItem,
    usage: Option<Usage>,
    section: Option<u32>,
) -> Result<(), StoreError> {
    let upsert = item_upsert(user_id, org, it, usage, section)?;
    let written = txn
        .execute(&upsert)
        .await
        .map_err(store_err("upsert item"))?
        .rows_affected();
    // The conflict guard filtered the update out: the id belongs to another thread.
    if written == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A plain insert of a new item without usage or section (its id taken is a key violation).
pub(super) fn item_insert(
    user_id: &str,
    org: Option<String>,
    it: &ThreadItem,
) -> Result<InsertStatement, StoreError> {
    Ok(item::Entity::insert(item_row(user_id, org, it, None, None)?).into_query())
}

/// The statement of [`upsert_item`] (one row written, or none when the id is another
/// thread's).
fn item_upsert(
    user_id: &str,
    org: Option<String>,
    it: &ThreadItem,
    usage: Option<Usage>,
    section: Option<u32>,
) -> Result<InsertStatement, StoreError> {
    let row = item_row(user_id, org, it, usage, section)?;
    let mut replaced = vec![
        item::Column::Kind,
        item::Column::Payload,
        item::Column::Visible,
    ];
    if usage.is_some() {
        replaced.extend([item::Column::InputTokens, item::Column::OutputTokens]);
    }
    if section.is_some() {
        replaced.push(item::Column::Section);
    }
    let same_owner = Expr::col((item::Entity, item::Column::ThreadId))
        .eq(it.thread_id.as_str())
        .and(Expr::col((item::Entity, item::Column::UserId)).eq(user_id));
    let on_conflict = OnConflict::column(item::Column::Id)
        .update_columns(replaced)
        .action_and_where(same_owner)
        .to_owned();
    Ok(item::Entity::insert(row)
        .on_conflict(on_conflict)
        .into_query())
}

/// The row of `it`: token columns set only when `usage` is given, the section only when
/// `section` is.
fn item_row(
    user_id: &str,
    org: Option<String>,
    it: &ThreadItem,
    usage: Option<Usage>,
    section: Option<u32>,
) -> Result<item::ActiveModel, StoreError> {
    let tokens = |n: Option<u32>| n.map_or(NotSet, |n| Set(Some(i64::from(n))));
    Ok(item::ActiveModel {
        id: Set(it.id.clone()),
        thread_id: Set(it.thread_id.clone()),
        user_id: Set(user_id.to_owned()),
        organization_id: Set(org),
        kind: Set(convert::kind_name(&it.kind).to_owned()),
        payload: Set(convert::payload(&it.kind)?),
        visible: Set(it.kind.is_visible()),
        created_at: Set(to_micros(it.created_at)),
        input_tokens: tokens(usage.map(|u| u.input_tokens)),
        output_tokens: tokens(usage.map(|u| u.output_tokens)),
        section: section.map_or(NotSet, |n| Set(Some(i64::from(n)))),
    })
}

/// Inserts or replaces the study state of a thread whose ownership the caller verified; the
/// thread's lesson is recorded on it when given (else a recorded one stays).
pub(super) async fn upsert_state(
    txn: &DatabaseTransaction,
    user_id: &str,
    org: Option<String>,
    thread_id: &str,
    state: &StudyState,
    lesson_path: Option<&str>,
) -> Result<(), StoreError> {
    let row = study_state::ActiveModel {
        thread_id: Set(thread_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        organization_id: Set(org),
        state: Set(convert::state_json(state)?),
        updated_at: Set(now_micros()),
        lesson_path: lesson_path.map_or(NotSet, |p| Set(Some(p.to_owned()))),
    };
    let mut replaced = vec![study_state::Column::State, study_state::Column::UpdatedAt];
    if lesson_path.is_some() {
        replaced.push(study_state::Column::LessonPath);
    }
    let on_conflict = OnConflict::column(study_state::Column::ThreadId)
        .update_columns(replaced)
        .to_owned();
    study_state::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(txn)
        .await
        .map_err(store_err("upsert study state"))?;
    Ok(())
}

/// Where the next page of items starts for a client's `after`: the position an opaque cursor
/// carries (whether or not its item still exists), or that of the item an older plain-id
/// `after` names (NotFound once it is gone).
pub(super) async fn item_after(
    conn: &impl ConnectionTrait,
    user_id: &str,
    thread_id: &str,
    after: &str,
) -> Result<Cursor, StoreError> {
    match cursor::parse("after", after).map_err(|_| StoreError::NotFound)? {
        After::Position(position) => Ok(position),
        After::Id(item_id) => item_cursor(conn, user_id, thread_id, &item_id).await,
    }
}

/// Where the next page of threads starts for a client's `after`; see [`item_after`].
pub(super) async fn thread_after(
    conn: &impl ConnectionTrait,
    user_id: &str,
    after: &str,
) -> Result<Cursor, StoreError> {
    match cursor::parse("after", after).map_err(|_| StoreError::NotFound)? {
        After::Position(position) => Ok(position),
        After::Id(thread_id) => thread_cursor(conn, user_id, &thread_id).await,
    }
}

/// Where the next page starts: the `(created_at, id)` of the item `after` of this thread.
pub(super) async fn item_cursor(
    conn: &impl ConnectionTrait,
    user_id: &str,
    thread_id: &str,
    item_id: &str,
) -> Result<Cursor, StoreError> {
    let created_at = item::Entity::find_by_id(item_id)
        .filter(item::Column::ThreadId.eq(thread_id))
        .filter(item::Column::UserId.eq(user_id))
        .select_only()
        .column(item::Column::CreatedAt)
        .into_tuple::<i64>()
        .one(conn)
        .await
        .map_err(store_err("load item cursor"))?
        .ok_or(StoreError::NotFound)?;
    Ok(Cursor {
        created_at,
        id: item_id.to_owned(),
    })
}

/// The organisation of a thread of `user_id`, or NotFound.
pub(super) async fn thread_org(
    conn: &impl ConnectionTrait,
    user_id: &str,
    thread_id: &str,
) -> Result<Option<String>, StoreError> {
    thread::Entity::find_by_id(thread_id)
        .filter(thread::Column::UserId.eq(user_id))
        .select_only()
        .column(thread::Column::OrganizationId)
        .into_tuple::<Option<String>>()
        .one(conn)
        .await
        .map_err(store_err("load thread"))?
        .ok_or(StoreError::NotFound)
}

/// The `(created_at, id)` of the thread `thread_id` of `user_id`, or NotFound.
async fn thread_cursor(
    conn: &impl ConnectionTrait,
    user_id: &str,
    thread_id: &str,
) -> Result<Cursor, StoreError> {
    let created_at = thread::Entity::find_by_id(thread_id)
        .filter(thread::Column::UserId.eq(user_id))
        .select_only()
        .column(thread::Column::CreatedAt)
        .into_tuple::<i64>()
        .one(conn)
        .await
        .map_err(store_err("load thread cursor"))?
        .ok_or(StoreError::NotFound)?;
    Ok(Cursor {
        created_at,
        id: thread_id.to_owned(),
    })
}
