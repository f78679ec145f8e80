//! API keys for service-to-service calls and operators: one row per key, holding a SHA-256 of
//! the secret and never the secret itself.
//!
//! Same conventions as the threads migration: `IF NOT EXISTS`, instants as BIGINT microseconds
//! since the Unix epoch, types both Postgres and SQLite accept.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Scopes,
    Tier,
    SecretHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A handful of rows read by primary key or listed whole: no secondary index pays off.
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(text(ApiKeys::Id).primary_key())
                    .col(text(ApiKeys::Name))
                    // Comma-separated; scope names never contain a comma.
                    .col(text(ApiKeys::Scopes))
                    .col(text(ApiKeys::Tier))
                    .col(text(ApiKeys::SecretHash))
                    .col(big_integer(ApiKeys::CreatedAt))
                    .col(big_integer_null(ApiKeys::LastUsedAt))
                    .col(big_integer_null(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).if_exists().to_owned())
            .await
    }
}
