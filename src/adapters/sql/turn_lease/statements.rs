//! The lease's statements: every one a single `UPDATE threads … WHERE …` whose row count is the
//! answer, so each is atomic on both engines without an explicit transaction or row lock.

use sea_orm::sea_query::{Expr, Func, Query, SimpleExpr, UpdateStatement};
use sea_orm::{ConnectionTrait, DbErr, DeriveIden, ExprTrait, RuntimeErr};

use crate::adapters::sql::Database;

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    TurnOwner,
    TurnLeaseUntil,
}

fn set_owner(owner: Option<&str>, until: Option<i64>) -> UpdateStatement {
    Query::update()
        .table(Threads::Table)
        .value(Threads::TurnOwner, owner.map(str::to_owned))
        .value(Threads::TurnLeaseUntil, until)
        .to_owned()
}

/// Runs one statement through the database's bounded call (the request's wait budget, the
/// client-side statement bound); running out of either reads as a connection error.
async fn rows(db: &Database, stmt: &UpdateStatement) -> Result<u64, DbErr> {
    let run = async { Ok(db.connection().execute(stmt).await) };
    match db.write("turn lease", run).await {
        Ok(done) => Ok(done?.rows_affected()),
        Err(_) => Err(DbErr::Conn(RuntimeErr::Internal(
            "no database connection in time".into(),
        ))),
    }
}

/// Takes a free lease: no owner, or one of `handover` (leases of this process whose turn ended
/// and whose release is still under way, so they may pass straight to the next turn).
pub(super) async fn take_free(
    db: &Database,
    thread_id: &str,
    token: &str,
    until: i64,
    handover: Vec<String>,
) -> Result<bool, DbErr> {
    let mut free = Expr::col(Threads::TurnOwner).is_null();
    if !handover.is_empty() {
        free = free.or(Expr::col(Threads::TurnOwner).is_in(handover));
    }
    let stmt = set_owner(Some(token), Some(until))
        .and_where(Expr::col(Threads::Id).eq(thread_id))
        .and_where(free)
        .to_owned();
    Ok(rows(db, &stmt).await? == 1)
}

/// Takes over a lease that was not renewed in time (its holder died or lost the database).
pub(super) async fn take_expired(
    db: &Database,
    thread_id: &str,
    token: &str,
    now: i64,
    until: i64,
) -> Result<bool, DbErr> {
    let stmt = set_owner(Some(token), Some(until))
        .and_where(Expr::col(Threads::Id).eq(thread_id))
        .and_where(Expr::col(Threads::TurnOwner).is_not_null())
        .and_where(Expr::col(Threads::TurnLeaseUntil).lt(now))
        .to_owned();
    Ok(rows(db, &stmt).await? == 1)
}

/// Extends a lease still held by `token`; false when it is no longer ours.
pub(super) async fn renew(
    db: &Database,
    thread_id: &str,
    token: &str,
    until: i64,
) -> Result<bool, DbErr> {
    let stmt = Query::update()
        .table(Threads::Table)
        .value(Threads::TurnLeaseUntil, until)
        .and_where(Expr::col(Threads::Id).eq(thread_id))
        .and_where(Expr::col(Threads::TurnOwner).eq(token))
        .to_owned();
    Ok(rows(db, &stmt).await? == 1)
}

/// Frees a lease if `token` still holds it (a lease taken over meanwhile is left alone).
pub(super) async fn release(db: &Database, thread_id: &str, token: &str) -> Result<bool, DbErr> {
    let stmt = set_owner(None, None)
        .and_where(Expr::col(Threads::Id).eq(thread_id))
        .and_where(Expr::col(Threads::TurnOwner).eq(token))
        .to_owned();
    Ok(rows(db, &stmt).await? == 1)
}

/// Frees every lease whose owner token starts with `prefix` and is exactly `prefix` plus
/// `rest` characters long, except those starting with `keep` (if any). The length pins the
/// prefix to a whole replica id: `node:` then never matches the tokens of `node:8000`.
pub(super) async fn release_matching(
    db: &Database,
    prefix: &str,
    rest: usize,
    keep: Option<&str>,
) -> Result<u64, DbErr> {
    let mut stmt = set_owner(None, None)
        .and_where(Expr::col(Threads::TurnOwner).is_not_null())
        .and_where(starts_with(prefix))
        .and_where(
            Expr::expr(Func::char_length(Expr::col(Threads::TurnOwner)))
                .eq(chars(prefix.len() + rest)),
        )
        .to_owned();
    if let Some(keep) = keep {
        stmt.and_where(starts_with(keep).not());
    }
    rows(db, &stmt).await
}

/// `SUBSTR(turn_owner, 1, n) = prefix`: the same on both engines (no LIKE, whose `_` and `%`
/// a replica id would have to escape). Owner tokens are ASCII, so characters are bytes.
fn starts_with(prefix: &str) -> SimpleExpr {
    Expr::expr(
        Func::cust("SUBSTR")
            .arg(Expr::col(Threads::TurnOwner))
            .arg(1i32)
            .arg(chars(prefix.len())),
    )
    .eq(prefix)
}

/// A length as an INT4 parameter: Postgres has no `substr(text, bigint, bigint)`.
fn chars(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
