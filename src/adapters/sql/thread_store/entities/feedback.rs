//! Row of `item_feedback`: one user's rating of one item.

use sea_orm::entity::prelude::*;

/// An `item_feedback` row; a new rating of the same item by the same user replaces it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "item_feedback")]
pub struct Model {
    /// Rated item.
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: String,
    /// Rater.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// Thread of the item.
    pub thread_id: String,
    /// Tenant (the thread's).
    pub organization_id: Option<String>,
    /// `positive` or `negative`.
    pub kind: String,
    /// When it was (last) rated, microseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relation is navigated: the store filters by key, and cascades live in the schema.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
