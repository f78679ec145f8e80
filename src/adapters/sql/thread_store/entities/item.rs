//! Row of `thread_items`: one entry of a thread.

use sea_orm::entity::prelude::*;

/// A `thread_items` row; instants are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "thread_items")]
pub struct Model {
    /// Item id, unique across threads.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning thread.
    pub thread_id: String,
    /// Owner (the thread's).
    pub user_id: String,
    /// Tenant (the thread's).
    pub organization_id: Option<String>,
    /// `user_message`, `assistant_message` or `hidden_context`.
    pub kind: String,
    /// The serialized `ItemKind`, tag included.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// Whether clients may see it.
    pub visible: bool,
    /// Creation instant (page key); kept when the item is replaced.
    pub created_at: i64,
    /// Prompt tokens of the turn, on its assistant item.
    pub input_tokens: Option<i64>,
    /// Completion tokens of the turn, on its assistant item.
    pub output_tokens: Option<i64>,
    /// The lesson section a teach-mode tutor message is about (0-based), for feedback per
    /// section.
    pub section: Option<i64>,
}

/// No relation is navigated: the store filters by key, and cascades live in the schema.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
