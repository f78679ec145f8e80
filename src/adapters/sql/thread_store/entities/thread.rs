//! Row of `threads`: one conversation, owned by a user.

use sea_orm::entity::prelude::*;

/// A `threads` row; instants are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "threads")]
pub struct Model {
    /// Thread id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Tenant.
    pub organization_id: Option<String>,
    /// Title, once set.
    #[sea_orm(column_type = "Text", nullable)]
    pub title: Option<String>,
    /// `ThreadStatus` as JSON text.
    #[sea_orm(column_type = "Text")]
    pub status: String,
    /// Server-only metadata.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    /// Creation instant (page key).
    pub created_at: i64,
    /// Last change (a save, an item, a turn).
    pub updated_at: i64,
}

/// No relation is navigated: the store filters by key, and cascades live in the schema.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
