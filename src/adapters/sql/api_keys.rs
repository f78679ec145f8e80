//! ApiKeyStore on SeaORM (Postgres and SQLite): one `api_keys` row per key, holding the hash of
//! its secret, never the secret; instants are exact microseconds.
//!
//! Revocation and last use are single conditional `UPDATE`s, so concurrent writers cannot undo
//! each other: the first revocation time stays, and `last_used_at` never moves backwards.

mod entity;

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use self::entity::{ActiveModel, Column, Entity, Model};
use super::{Database, classify};
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::ports::{ApiKeyStore, StoreError};
use crate::domain::principal::Tier;

/// Separates scopes in the `scopes` column; no known scope contains it.
const SCOPE_SEPARATOR: char = ',';

/// Every tier, to read the `tier` column back.
const TIERS: [Tier; 3] = [Tier::Free, Tier::Premium, Tier::Admin];

/// [`ApiKeyStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlApiKeyStore {
    db: Database,
}

impl SqlApiKeyStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ApiKeyStore for SqlApiKeyStore {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.db
            .write("insert api key", async {
                Entity::insert(to_row(key)?)
                    .exec_without_returning(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "insert api key"))?;
                Ok(())
            })
            .await
    }

    async fn find(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.db
            .read("find api key", async {
                Entity::find_by_id(id)
                    .one(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "find api key"))?
                    .map(from_row)
                    .transpose()
            })
            .await
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.db
            .read("list api keys", async {
                Entity::find()
                    .order_by_asc(Column::CreatedAt)
                    .order_by_asc(Column::Id)
                    .all(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "list api keys"))?
                    .into_iter()
                    .map(from_row)
                    .collect()
            })
            .await
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .write("revoke api key", async {
                let conn = self.db.connection();
                let revoked = Entity::update_many()
                    .col_expr(Column::RevokedAt, Expr::value(at.timestamp_micros()))
                    .filter(Column::Id.eq(id))
                    .filter(Column::RevokedAt.is_null())
                    .exec(conn)
                    .await
                    .map_err(|e| classify(e, "revoke api key"))?;
                if revoked.rows_affected == 0 {
                    // Nothing changed: either the key was revoked before (its first time stays) or
                    // there is no such key.
                    let exists = Entity::find_by_id(id)
                        .select_only()
                        .column(Column::Id)
                        .into_tuple::<String>()
                        .one(conn)
                        .await
                        .map_err(|e| classify(e, "find revoked api key"))?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound);
                    }
                }
                Ok(())
            })
            .await
    }

    async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .write("touch api key", async {
                let micros = at.timestamp_micros();
                // Touches are fired without waiting and may land out of order: keep the latest.
                Entity::update_many()
                    .col_expr(Column::LastUsedAt, Expr::value(micros))
                    .filter(Column::Id.eq(id))
                    .filter(
                        Condition::any()
                            .add(Column::LastUsedAt.is_null())
                            .add(Column::LastUsedAt.lt(micros)),
                    )
                    .exec(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "touch api key"))?;
                Ok(())
            })
            .await
    }
}

/// The row of a new key; refuses scopes the `scopes` column could not give back.
fn to_row(key: &ApiKeyRecord) -> Result<ActiveModel, StoreError> {
    if let Some(bad) = key
        .scopes
        .iter()
        .find(|s| s.is_empty() || s.contains(SCOPE_SEPARATOR))
    {
        return Err(StoreError::Unexpected(anyhow!(
            "api key {} has scope {bad:?}, which cannot be stored",
            key.id
        )));
    }
    Ok(ActiveModel {
        id: Set(key.id.clone()),
        name: Set(key.name.clone()),
        scopes: Set(key.scopes.join(&SCOPE_SEPARATOR.to_string())),
        tier: Set(key.tier.as_str().to_owned()),
        secret_hash: Set(key.secret_hash.clone()),
        created_at: Set(key.created_at.timestamp_micros()),
        last_used_at: Set(key.last_used_at.map(|at| at.timestamp_micros())),
        revoked_at: Set(key.revoked_at.map(|at| at.timestamp_micros())),
    })
}

/// A key read back from its row.
fn from_row(row: Model) -> Result<ApiKeyRecord, StoreError> {
    let tier = TIERS
        .into_iter()
        .find(|t| t.as_str() == row.tier)
        .ok_or_else(|| anyhow!("api key {} has unknown tier {:?}", row.id, row.tier))?;
    let what = format!("api key {}", row.id);
    let instant = |micros: i64| super::txn::instant(micros, &what);
    Ok(ApiKeyRecord {
        created_at: instant(row.created_at)?,
        last_used_at: row.last_used_at.map(instant).transpose()?,
        revoked_at: row.revoked_at.map(instant).transpose()?,
        scopes: row
            .scopes
            .split(SCOPE_SEPARATOR)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        tier,
        id: row.id,
        name: row.name,
        secret_hash: row.secret_hash,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue;

    use super::*;
    use crate::domain::api_key::hash_secret;

    fn record() -> ApiKeyRecord {
        ApiKeyRecord {
            id: "abc123".into(),
            name: "ci pipeline".into(),
            scopes: vec!["admin".into(), "lessons:purge".into()],
            tier: Tier::Premium,
            secret_hash: hash_secret("s3cret"),
            created_at: DateTime::from_timestamp_micros(1_763_800_000_123_457).unwrap(),
            last_used_at: DateTime::from_timestamp_micros(1_763_800_060_000_001),
            revoked_at: None,
        }
    }

    fn model(row: ActiveModel) -> Model {
        fn get<T: Into<sea_orm::Value>>(v: ActiveValue<T>) -> T {
            v.unwrap()
        }
        Model {
            id: get(row.id),
            name: get(row.name),
            scopes: get(row.scopes),
            tier: get(row.tier),
            secret_hash: get(row.secret_hash),
            created_at: get(row.created_at),
            last_used_at: get(row.last_used_at),
            revoked_at: get(row.revoked_at),
        }
    }

    #[test]
    fn a_record_survives_the_row_round_trip() {
        let key = record();
        let row = model(to_row(&key).unwrap());
        assert_eq!(row.scopes, "admin,lessons:purge");
        assert_eq!(row.tier, "premium");
        assert_eq!(from_row(row).unwrap(), key);
    }

    #[test]
    fn a_scope_with_a_comma_is_refused_rather_than_split() {
        let mut key = record();
        key.scopes = vec!["admin,lessons:purge".into()];
        assert!(matches!(to_row(&key), Err(StoreError::Unexpected(_))));
    }

    #[test]
    fn an_unknown_stored_tier_is_an_unexpected_error() {
        let mut row = model(to_row(&record()).unwrap());
        row.tier = "gold".into();
        let err = from_row(row).unwrap_err();
        assert!(err.to_string().contains("gold"), "{err}");
    }
}
