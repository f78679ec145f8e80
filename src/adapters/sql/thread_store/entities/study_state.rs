//! Row of `study_states`: the teaching progress of one thread.

use sea_orm::entity::prelude::*;

/// A `study_states` row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "study_states")]
pub struct Model {
    /// The thread it belongs to (one state per thread).
    #[sea_orm(primary_key, auto_increment = false)]
    pub thread_id: String,
    /// Owner (the thread's).
    pub user_id: String,
    /// Tenant (the thread's).
    pub organization_id: Option<String>,
    /// The serialized `StudyState`.
    #[sea_orm(column_type = "JsonBinary")]
    pub state: Json,
    /// Last write, microseconds since the Unix epoch.
    pub updated_at: i64,
    /// The thread's lesson (from its metadata), for progress and analytics.
    pub lesson_path: Option<String>,
}

/// No relation is navigated: the store filters by key, and cascades live in the schema.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
