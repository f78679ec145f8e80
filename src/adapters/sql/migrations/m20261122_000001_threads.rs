//! Threads and their items, scoped by user and recording the organisation on every row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    json, string, string_len, string_len_null, string_null, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    UserId,
    OrganizationId,
    Title,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ThreadItems {
    Table,
    Id,
    ThreadId,
    UserId,
    OrganizationId,
    Kind,
    Content,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Threads::Table)
                    .if_not_exists()
                    .col(string_len(Threads::Id, 64).primary_key())
                    .col(string_len(Threads::UserId, 200))
                    .col(string_len_null(Threads::OrganizationId, 200))
                    .col(string_null(Threads::Title))
                    .col(json(Threads::Metadata))
                    .col(timestamp_with_time_zone(Threads::CreatedAt))
                    .col(timestamp_with_time_zone(Threads::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Keyset pages of one user's threads walk this index.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_threads_user_created")
                    .table(Threads::Table)
                    .col(Threads::UserId)
                    .col(Threads::CreatedAt)
                    .col(Threads::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ThreadItems::Table)
                    .if_not_exists()
                    .col(string_len(ThreadItems::Id, 64).primary_key())
                    .col(string_len(ThreadItems::ThreadId, 64))
                    .col(string_len(ThreadItems::UserId, 200))
                    .col(string_len_null(ThreadItems::OrganizationId, 200))
                    .col(string(ThreadItems::Kind))
                    .col(json(ThreadItems::Content))
                    .col(timestamp_with_time_zone(ThreadItems::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_thread_items_thread")
                            .from(ThreadItems::Table, ThreadItems::ThreadId)
                            .to(Threads::Table, Threads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_thread_items_thread_created")
                    .table(ThreadItems::Table)
                    .col(ThreadItems::ThreadId)
                    .col(ThreadItems::CreatedAt)
                    .col(ThreadItems::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ThreadItems::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Threads::Table).if_exists().to_owned())
            .await
    }
}
