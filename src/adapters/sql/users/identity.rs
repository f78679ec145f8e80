//! Row of `user_identities`: one provider account linked to one user.

use sea_orm::entity::prelude::*;

/// A `user_identities` row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identities")]
pub struct Model {
    /// `github` or `google`.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub provider: String,
    /// The provider's stable id of the account.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub subject: String,
    /// The linked user.
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// The address the provider gave at the last sign-in, lowercased.
    #[sea_orm(column_type = "Text", nullable)]
    pub email: Option<String>,
    /// When it was linked, microseconds since the Unix epoch.
    pub created_at: i64,
}

/// The link to `users` is the schema's foreign key; the store filters by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
