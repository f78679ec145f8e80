//! Keyset pages on `(created_at, id)`: the condition that starts strictly after a cursor, the
//! matching sort, and the `has_more` probe row.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryOrder, QuerySelect, Select};

use crate::domain::cursor;
use crate::domain::thread::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Order, Page, Thread, ThreadItem};

/// Position of a row in page order: creation instant (microseconds) and id.
pub(super) use crate::domain::cursor::Position as Cursor;

/// Rows strictly after `cursor` when walking in `order`.
///
/// Spelled as `a > x OR (a = x AND b > y)` rather than a row-value comparison so that both
/// engines plan it on the `(…, created_at, id)` index the same way.
pub(super) fn after<C: ColumnTrait>(created: C, id: C, order: Order, cursor: &Cursor) -> Condition {
    let (first, tie) = match order {
        Order::Asc => (created.gt(cursor.created_at), id.gt(cursor.id.as_str())),
        Order::Desc => (created.lt(cursor.created_at), id.lt(cursor.id.as_str())),
    };
    Condition::any()
        .add(first)
        .add(Condition::all().add(created.eq(cursor.created_at)).add(tie))
}

/// Rows actually returned for a requested `limit` (0 means the protocol default).
pub(super) fn page_size(limit: u32) -> u32 {
    match limit {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// Sorts `select` in page order and fetches one row beyond the page to learn `has_more`.
pub(super) fn ordered<E: EntityTrait, C: ColumnTrait>(
    select: Select<E>,
    created: C,
    id: C,
    order: Order,
    limit: u32,
) -> Select<E> {
    let direction = match order {
        Order::Asc => sea_orm::Order::Asc,
        Order::Desc => sea_orm::Order::Desc,
    };
    select
        .order_by(created, direction.clone())
        .order_by(id, direction)
        .limit(u64::from(page_size(limit)) + 1)
}

/// Cuts the probe row off `rows` and, when another page follows, gives the opaque cursor of the
/// last row (from its `(created_at, id)`), which stays valid if that row is deleted.
pub(super) fn into_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    position_of: impl Fn(&T) -> (DateTime<Utc>, &str),
) -> Page<T> {
    let size = usize::try_from(page_size(limit)).unwrap_or(usize::MAX);
    let has_more = rows.len() > size;
    rows.truncate(size);
    let after = if has_more {
        rows.last().map(|row| {
            let (created_at, id) = position_of(row);
            cursor::encode(created_at.timestamp_micros(), id)
        })
    } else {
        None
    };
    Page {
        data: rows,
        has_more,
        after,
    }
}

/// Where a thread stands in page order, for [`into_page`].
pub(super) fn thread_position(thread: &Thread) -> (DateTime<Utc>, &str) {
    (thread.created_at, &thread.id)
}

/// Where an item stands in page order, for [`into_page`].
pub(super) fn item_position(item: &ThreadItem) -> (DateTime<Utc>, &str) {
    (item.created_at, &item.id)
}
