//! Row of `api_keys`: the adapter's own wire type, never seen outside it.

use sea_orm::entity::prelude::*;

/// An `api_keys` row; instants are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Public key id.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// Operator-chosen label.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// Granted scopes, comma-separated.
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    /// Quota tier (`free`, `premium`, `admin`).
    #[sea_orm(column_type = "Text")]
    pub tier: String,
    /// Lowercase hex SHA-256 of the secret.
    #[sea_orm(column_type = "Text")]
    pub secret_hash: String,
    /// Creation instant (list order).
    pub created_at: i64,
    /// Last authenticated request, if any.
    pub last_used_at: Option<i64>,
    /// Revocation instant, if revoked.
    pub revoked_at: Option<i64>,
}

/// The table stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
