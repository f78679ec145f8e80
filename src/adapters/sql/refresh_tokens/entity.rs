//! Row of `refresh_tokens`: the adapter's own wire type, never seen outside it.

use sea_orm::entity::prelude::*;

/// A `refresh_tokens` row; instants are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Lowercase hex SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub hash: String,
    /// The session every token rotated from one sign-in shares.
    #[sea_orm(column_type = "Text")]
    pub family_id: String,
    /// Whose session.
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// When it was issued.
    pub issued_at: i64,
    /// After this it is refused.
    pub expires_at: i64,
    /// Hash of the token that replaced it.
    #[sea_orm(column_type = "Text", nullable)]
    pub replaced_by: Option<String>,
    /// When its family was revoked.
    pub revoked_at: Option<i64>,
}

/// The table stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
