//! Row of `users`: the adapter's own wire type, never seen outside it.

use sea_orm::entity::prelude::*;

/// A `users` row; instants are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// `usr_…`.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// Lowercased address, when a provider shared one.
    #[sea_orm(column_type = "Text", nullable)]
    pub email: Option<String>,
    /// Whether a provider verified `email` (unique among verified rows).
    pub email_verified: bool,
    /// Display name.
    #[sea_orm(column_type = "Text", nullable)]
    pub name: Option<String>,
    /// Quota tier (`free`, `premium`, `admin`).
    #[sea_orm(column_type = "Text")]
    pub tier: String,
    /// `student`, `teacher` or `admin`.
    #[sea_orm(column_type = "Text")]
    pub role: String,
    /// First sign-in (list order).
    pub created_at: i64,
    /// When an operator disabled the user.
    pub disabled_at: Option<i64>,
}

/// Identities reach users through the schema's cascade only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
