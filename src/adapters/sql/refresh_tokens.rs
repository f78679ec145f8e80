//! RefreshTokenStore on SeaORM (Postgres and SQLite): one `refresh_tokens` row per token,
//! holding its SHA-256 and never the token; instants are exact microseconds.
//!
//! A rotation is a conditional `UPDATE` of the old row (still neither replaced nor revoked)
//! and the `INSERT` of the new one, in one transaction: of two concurrent rotations the second
//! `UPDATE` waits for the first (Postgres row lock, SQLite's write lock taken at `BEGIN
//! IMMEDIATE`), then finds the row replaced and touches nothing.
//!
//! Revocations fill `revoked_at` of every token of the family (or user) not revoked yet, so the
//! first time stays; they count the tokens that were live then (current: neither replaced nor
//! expired), which is how many sessions ended.

mod entity;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
};

use self::entity::{ActiveModel, Column, Entity, Model};
use super::{Database, classify, txn};
use crate::domain::identity::RefreshTokenRecord;
use crate::domain::ports::{RefreshTokenStore, Rotation, StoreError};

/// [`RefreshTokenStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlRefreshTokenStore {
    db: Database,
}

impl SqlRefreshTokenStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Revokes every token whose `column` is `key`; returns how many were live at `at`.
    async fn revoke_where(
        &self,
        action: &'static str,
        column: Column,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.db
            .write(action, async {
                let micros = at.timestamp_micros();
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    // Live ones first, to count them; then the rotated ones of the same tokens.
                    let live = revoke(&txn, action, column, key, micros, true).await?;
                    revoke(&txn, action, column, key, micros, false).await?;
                    Ok(live)
                }
                .await;
                txn::finish(txn, result, action).await
            })
            .await
    }
}

/// Sets `revoked_at` of the not yet revoked tokens whose `column` is `key` (only the live ones
/// when `live_only`); returns how many rows changed.
async fn revoke(
    txn: &DatabaseTransaction,
    action: &'static str,
    column: Column,
    key: &str,
    micros: i64,
    live_only: bool,
) -> Result<u64, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(micros))
        .filter(column.eq(key))
        .filter(Column::RevokedAt.is_null());
    if live_only {
        update = update
            .filter(Column::ReplacedBy.is_null())
            .filter(Column::ExpiresAt.gt(micros));
    }
    let done = update.exec(txn).await.map_err(|e| classify(e, action))?;
    Ok(done.rows_affected)
}

#[async_trait]
impl RefreshTokenStore for SqlRefreshTokenStore {
    async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.db
            .write("insert refresh token", async {
                Entity::insert(to_row(token))
                    .exec_without_returning(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "insert refresh token"))?;
                Ok(())
            })
            .await
    }

    async fn find(&self, hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.db
            .read("find refresh token", async {
                Entity::find_by_id(hash)
                    .one(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "find refresh token"))?
                    .map(from_row)
                    .transpose()
            })
            .await
    }

    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshTokenRecord,
    ) -> Result<Rotation, StoreError> {
        self.db
            .write("rotate refresh token", async {
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    let replaced = Entity::update_many()
                        .col_expr(Column::ReplacedBy, Expr::value(new.hash.clone()))
                        .filter(Column::Hash.eq(old_hash))
                        .filter(Column::ReplacedBy.is_null())
                        .filter(Column::RevokedAt.is_null())
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "replace refresh token"))?;
                    if replaced.rows_affected == 0 {
                        return Ok(Rotation::Lost);
                    }
                    Entity::insert(to_row(new))
                        .exec_without_returning(&txn)
                        .await
                        .map_err(|e| classify(e, "insert rotated refresh token"))?;
                    Ok(Rotation::Rotated)
                }
                .await;
                txn::finish(txn, result, "rotate refresh token").await
            })
            .await
    }

    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.revoke_where(
            "revoke refresh token family",
            Column::FamilyId,
            family_id,
            at,
        )
        .await
    }

    async fn revoke_user(&self, user_id: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.revoke_where("revoke refresh tokens of user", Column::UserId, user_id, at)
            .await
    }

    async fn family_alive(&self, family_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.db
            .read("check refresh token family", async {
                let alive = Entity::find()
                    .filter(Column::FamilyId.eq(family_id))
                    .filter(Column::RevokedAt.is_null())
                    .filter(Column::ExpiresAt.gt(now.timestamp_micros()))
                    .count(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "check refresh token family"))?;
                Ok(alive > 0)
            })
            .await
    }
}

/// The row of a token.
fn to_row(token: &RefreshTokenRecord) -> ActiveModel {
    ActiveModel {
        hash: Set(token.hash.clone()),
        family_id: Set(token.family_id.clone()),
        user_id: Set(token.user_id.clone()),
        issued_at: Set(token.issued_at.timestamp_micros()),
        expires_at: Set(token.expires_at.timestamp_micros()),
        replaced_by: Set(token.replaced_by.clone()),
        revoked_at: Set(token.revoked_at.map(|at| at.timestamp_micros())),
    }
}

/// A token read back from its row (named by its family, never by its hash).
fn from_row(row: Model) -> Result<RefreshTokenRecord, StoreError> {
    let what = format!("a refresh token of family {}", row.family_id);
    Ok(RefreshTokenRecord {
        issued_at: txn::instant(row.issued_at, &what)?,
        expires_at: txn::instant(row.expires_at, &what)?,
        revoked_at: row
            .revoked_at
            .map(|at| txn::instant(at, &what))
            .transpose()?,
        hash: row.hash,
        family_id: row.family_id,
        user_id: row.user_id,
        replaced_by: row.replaced_by,
    })
}
