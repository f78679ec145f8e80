//! The service's own sign-in: users, the provider identities linked to them, and the refresh
//! tokens of their sessions (hashes only, never a token).
//!
//! Same conventions as the threads migration: `IF NOT EXISTS`, instants as BIGINT microseconds
//! since the Unix epoch, types both Postgres and SQLite accept. One user per verified address is
//! a partial unique index, which both engines support; sea-query cannot express its `WHERE`, so
//! it is raw SQL like the turn lease index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailVerified,
    Name,
    Tier,
    Role,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum UserIdentities {
    Table,
    Provider,
    Subject,
    UserId,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Hash,
    FamilyId,
    UserId,
    IssuedAt,
    ExpiresAt,
    ReplacedBy,
    RevokedAt,
}

/// One user per verified address; unverified addresses may repeat.
const VERIFIED_EMAIL_INDEX: &str = "ux_users_verified_email";

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoTableRef,
    col: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .if_not_exists()
                .name(name)
                .table(table)
                .col(col)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(text(Users::Id).primary_key())
                    // Lowercased; NULL when no provider shared one.
                    .col(text_null(Users::Email))
                    .col(boolean(Users::EmailVerified))
                    .col(text_null(Users::Name))
                    .col(text(Users::Tier))
                    .col(text(Users::Role))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer_null(Users::DisabledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {VERIFIED_EMAIL_INDEX} ON users (email) \
                 WHERE email_verified"
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserIdentities::Table)
                    .if_not_exists()
                    .col(text(UserIdentities::Provider))
                    .col(text(UserIdentities::Subject))
                    .col(text(UserIdentities::UserId))
                    .col(text_null(UserIdentities::Email))
                    .col(big_integer(UserIdentities::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(UserIdentities::Provider)
                            .col(UserIdentities::Subject),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_identities_user")
                            .from(UserIdentities::Table, UserIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's identities are listed, and the cascade from users walks it.
        index(
            manager,
            "ix_user_identities_user",
            UserIdentities::Table,
            UserIdentities::UserId,
        )
        .await?;

        // No foreign key to users: the tokens are revoked, not deleted, with their user.
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    // Lowercase hex SHA-256 of the token.
                    .col(text(RefreshTokens::Hash).primary_key())
                    .col(text(RefreshTokens::FamilyId))
                    .col(text(RefreshTokens::UserId))
                    .col(big_integer(RefreshTokens::IssuedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(text_null(RefreshTokens::ReplacedBy))
                    .col(big_integer_null(RefreshTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_refresh_tokens_family",
            RefreshTokens::Table,
            RefreshTokens::FamilyId,
        )
        .await?;
        index(
            manager,
            "ix_refresh_tokens_user",
            RefreshTokens::Table,
            RefreshTokens::UserId,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {VERIFIED_EMAIL_INDEX}"))
            .await?;
        for table in [
            RefreshTokens::Table.into_iden(),
            UserIdentities::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
