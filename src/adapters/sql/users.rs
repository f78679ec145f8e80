//! UserStore on SeaORM (Postgres and SQLite): `users` rows and the provider identities
//! (`user_identities`) linked to them; instants are exact microseconds.
//!
//! A sign-in is one write transaction (see `sign_in`). Operator changes (tier, role,
//! disabling) are single `UPDATE`s followed by a read of the row; disabling only fills an empty
//! `disabled_at`, so the first time stays.

mod entity;
mod identity;
mod sign_in;

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use self::entity::{Column, Entity, Model};
use super::{Database, classify, txn};
use crate::domain::identity::{Provider, ProviderProfile, ROLES, User};
use crate::domain::ports::{StoreError, UserStore};
use crate::domain::principal::Tier;

/// Every tier, to read the `tier` column back.
const TIERS: [Tier; 3] = [Tier::Free, Tier::Premium, Tier::Admin];

/// Most users one `list` returns, whatever the caller asks.
const MAX_LIST: u64 = 10_000;

/// [`UserStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlUserStore {
    db: Database,
}

impl SqlUserStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The user `id` read with `conn`; NotFound when there is none.
    async fn load(conn: &impl ConnectionTrait, id: &str) -> Result<User, StoreError> {
        Entity::find_by_id(id)
            .one(conn)
            .await
            .map_err(|e| classify(e, "load user"))?
            .ok_or(StoreError::NotFound)
            .and_then(from_row)
    }

    /// Runs `update` on the row of `id` and reads the user back; NotFound when there is none.
    async fn update(
        &self,
        action: &'static str,
        id: &str,
        update: sea_orm::UpdateMany<Entity>,
    ) -> Result<User, StoreError> {
        let conn = self.db.connection();
        update
            .filter(Column::Id.eq(id))
            .exec(conn)
            .await
            .map_err(|e| classify(e, action))?;
        // Read back whatever the update did: an update filtered out (disabled before) still
        // answers with the user, a missing user is NotFound.
        Self::load(conn, id).await
    }
}

#[async_trait]
impl UserStore for SqlUserStore {
    async fn sign_in(
        &self,
        profile: &ProviderProfile,
        new_id: &str,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let signing_in = sign_in::SignIn::bounded(profile, new_id, now)?;
        self.db
            .write("sign in", async {
                match signing_in.run(&self.db).await {
                    // A concurrent first sign-in (same identity, or same verified address)
                    // committed in between: read again, which now finds its rows.
                    Err(StoreError::Conflict) => signing_in.run(&self.db).await,
                    other => other,
                }
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.db
            .read("get user", async {
                match Self::load(self.db.connection(), id).await {
                    Ok(user) => Ok(Some(user)),
                    Err(StoreError::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn list(&self, limit: u64) -> Result<Vec<User>, StoreError> {
        self.db
            .read("list users", async {
                Entity::find()
                    .order_by_asc(Column::CreatedAt)
                    .order_by_asc(Column::Id)
                    .limit(limit.min(MAX_LIST))
                    .all(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "list users"))?
                    .into_iter()
                    .map(from_row)
                    .collect()
            })
            .await
    }

    async fn set_tier(&self, id: &str, tier: Tier) -> Result<User, StoreError> {
        self.db
            .write("set user tier", async {
                let update =
                    Entity::update_many().col_expr(Column::Tier, Expr::value(tier.as_str()));
                self.update("set user tier", id, update).await
            })
            .await
    }

    async fn set_role(&self, id: &str, role: &str) -> Result<User, StoreError> {
        if !ROLES.contains(&role) {
            return Err(StoreError::Unexpected(anyhow!(
                "role {role:?} is not one of {ROLES:?}"
            )));
        }
        self.db
            .write("set user role", async {
                let update = Entity::update_many().col_expr(Column::Role, Expr::value(role));
                self.update("set user role", id, update).await
            })
            .await
    }

    async fn set_disabled(&self, id: &str, at: Option<DateTime<Utc>>) -> Result<User, StoreError> {
        self.db
            .write("set user disabled", async {
                let micros = at.map(|at| at.timestamp_micros());
                let mut update =
                    Entity::update_many().col_expr(Column::DisabledAt, Expr::value(micros));
                if at.is_some() {
                    // Disabling twice keeps the first time.
                    update = update.filter(Column::DisabledAt.is_null());
                }
                self.update("set user disabled", id, update).await
            })
            .await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.db
            .write("delete user", async {
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    // The schema cascades too; deleting explicitly does not depend on it.
                    identity::Entity::delete_many()
                        .filter(identity::Column::UserId.eq(id))
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "delete user identities"))?;
                    let deleted = Entity::delete_many()
                        .filter(Column::Id.eq(id))
                        .exec(&txn)
                        .await
                        .map_err(|e| classify(e, "delete user"))?;
                    Ok(deleted.rows_affected > 0)
                }
                .await;
                txn::finish(txn, result, "delete user").await
            })
            .await
    }

    async fn identities(&self, id: &str) -> Result<Vec<(Provider, String)>, StoreError> {
        self.db
            .read("list user identities", async {
                identity::Entity::find()
                    .filter(identity::Column::UserId.eq(id))
                    .order_by_asc(identity::Column::CreatedAt)
                    .order_by_asc(identity::Column::Provider)
                    .order_by_asc(identity::Column::Subject)
                    .all(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "list user identities"))?
                    .into_iter()
                    .map(|row| {
                        let provider = Provider::parse(&row.provider).ok_or_else(|| {
                            anyhow!(
                                "identity of user {id} has unknown provider {:?}",
                                row.provider
                            )
                        })?;
                        Ok((provider, row.subject))
                    })
                    .collect()
            })
            .await
    }
}

/// The name of a tier, as stored.
fn tier_from_name(name: &str) -> Option<Tier> {
    TIERS.into_iter().find(|t| t.as_str() == name)
}

/// A user read back from its row.
fn from_row(row: Model) -> Result<User, StoreError> {
    let tier = tier_from_name(&row.tier)
        .ok_or_else(|| anyhow!("user {} has unknown tier {:?}", row.id, row.tier))?;
    let what = format!("user {}", row.id);
    Ok(User {
        created_at: txn::instant(row.created_at, &what)?,
        disabled_at: row
            .disabled_at
            .map(|at| txn::instant(at, &what))
            .transpose()?,
        tier,
        id: row.id,
        email: row.email,
        email_verified: row.email_verified,
        name: row.name,
        role: row.role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Model {
        Model {
            id: "usr_1".into(),
            email: Some("ada@example.org".into()),
            email_verified: true,
            name: Some("Ada".into()),
            tier: "premium".into(),
            role: "teacher".into(),
            created_at: 1_763_800_000_123_457,
            disabled_at: None,
        }
    }

    #[test]
    fn a_row_reads_back_as_a_user() {
        let user = from_row(row()).unwrap();
        assert_eq!(user.tier, Tier::Premium);
        assert_eq!(user.created_at.timestamp_micros(), 1_763_800_000_123_457);
        assert_eq!(user.role, "teacher");
    }

    #[test]
    fn an_unknown_stored_tier_is_an_unexpected_error() {
        let mut bad = row();
        bad.tier = "gold".into();
        let err = from_row(bad).unwrap_err();
        assert!(err.to_string().contains("gold"), "{err}");
    }
}
