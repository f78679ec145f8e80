//! The readiness write probe's table: one row, rewritten with the time by each probe, so that
//! readiness can tell a database that answers but cannot commit (disk full, read-only).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DbProbe {
    Table,
    Id,
    ProbedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DbProbe::Table)
                    .if_not_exists()
                    .col(integer(DbProbe::Id).primary_key())
                    // Microseconds since the Unix epoch, like every instant of the schema.
                    .col(big_integer(DbProbe::ProbedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DbProbe::Table).if_exists().to_owned())
            .await
    }
}
