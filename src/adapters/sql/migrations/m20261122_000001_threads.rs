//! First schema: threads, their items, study state and feedback, all scoped by user and
//! recording the organisation on every row.
//!
//! Instants are BIGINT microseconds since the Unix epoch: keyset pages compare them exactly on
//! both engines, where SQLite would compare text timestamps by their spelling.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, json_binary, string_len, string_len_null, text,
    text_null,
};

/// Longest id the service generates (`thr_`/`msg_` + 32 hex digits) with room to spare.
const ID_LEN: u32 = 64;
/// Longest user or organisation id accepted from an identity provider.
const OWNER_LEN: u32 = 200;
/// Longest item kind name (`assistant_message`).
const KIND_LEN: u32 = 32;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    UserId,
    OrganizationId,
    Title,
    Status,
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
    Payload,
    Visible,
    CreatedAt,
    InputTokens,
    OutputTokens,
}

#[derive(DeriveIden)]
enum StudyStates {
    Table,
    ThreadId,
    UserId,
    OrganizationId,
    State,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ItemFeedback {
    Table,
    ItemId,
    ThreadId,
    UserId,
    OrganizationId,
    Kind,
    CreatedAt,
}

/// An id column. On Postgres it compares bytewise (`COLLATE "C"`), as SQLite does: page order
/// among equal instants is then the same on both engines whatever the database locale.
fn id(manager: &SchemaManager<'_>, col: impl IntoIden) -> ColumnDef {
    let mut def = string_len(col, ID_LEN);
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
        def.extra(r#"COLLATE "C""#);
    }
    def
}

fn cascade_to_thread(
    name: &str,
    from: impl IntoTableRef,
    col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, col)
        .to(Threads::Table, Threads::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoTableRef,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.if_not_exists().name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Threads::Table)
                    .if_not_exists()
                    .col(id(manager, Threads::Id).primary_key())
                    .col(string_len(Threads::UserId, OWNER_LEN))
                    .col(string_len_null(Threads::OrganizationId, OWNER_LEN))
                    .col(text_null(Threads::Title))
                    .col(text(Threads::Status))
                    .col(json_binary(Threads::Metadata))
                    .col(big_integer(Threads::CreatedAt))
                    .col(big_integer(Threads::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_threads_user_id",
            Threads::Table,
            vec![Threads::UserId.into_iden(), Threads::Id.into_iden()],
            true,
        )
        .await?;
        // Keyset pages of one user's threads walk this index.
        index(
            manager,
            "ix_threads_user_created",
            Threads::Table,
            vec![
                Threads::UserId.into_iden(),
                Threads::CreatedAt.into_iden(),
                Threads::Id.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ThreadItems::Table)
                    .if_not_exists()
                    .col(id(manager, ThreadItems::Id).primary_key())
                    .col(id(manager, ThreadItems::ThreadId))
                    .col(string_len(ThreadItems::UserId, OWNER_LEN))
                    .col(string_len_null(ThreadItems::OrganizationId, OWNER_LEN))
                    .col(string_len(ThreadItems::Kind, KIND_LEN))
                    .col(json_binary(ThreadItems::Payload))
                    .col(boolean(ThreadItems::Visible))
                    .col(big_integer(ThreadItems::CreatedAt))
                    .col(big_integer_null(ThreadItems::InputTokens))
                    .col(big_integer_null(ThreadItems::OutputTokens))
                    .foreign_key(&mut cascade_to_thread(
                        "fk_thread_items_thread",
                        ThreadItems::Table,
                        ThreadItems::ThreadId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_thread_items_thread_id",
            ThreadItems::Table,
            vec![
                ThreadItems::ThreadId.into_iden(),
                ThreadItems::Id.into_iden(),
            ],
            true,
        )
        .await?;
        // Keyset pages of one thread's items (and the cascade from threads) walk this index.
        index(
            manager,
            "ix_thread_items_thread_created",
            ThreadItems::Table,
            vec![
                ThreadItems::ThreadId.into_iden(),
                ThreadItems::CreatedAt.into_iden(),
                ThreadItems::Id.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StudyStates::Table)
                    .if_not_exists()
                    .col(id(manager, StudyStates::ThreadId).primary_key())
                    .col(string_len(StudyStates::UserId, OWNER_LEN))
                    .col(string_len_null(StudyStates::OrganizationId, OWNER_LEN))
                    .col(json_binary(StudyStates::State))
                    .col(big_integer(StudyStates::UpdatedAt))
                    .foreign_key(&mut cascade_to_thread(
                        "fk_study_states_thread",
                        StudyStates::Table,
                        StudyStates::ThreadId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ItemFeedback::Table)
                    .if_not_exists()
                    .col(id(manager, ItemFeedback::ItemId))
                    .col(id(manager, ItemFeedback::ThreadId))
                    .col(string_len(ItemFeedback::UserId, OWNER_LEN))
                    .col(string_len_null(ItemFeedback::OrganizationId, OWNER_LEN))
                    .col(string_len(ItemFeedback::Kind, KIND_LEN))
                    .col(big_integer(ItemFeedback::CreatedAt))
                    // One rating per item and user: a new rating replaces the old one.
                    .primary_key(
                        Index::create()
                            .col(ItemFeedback::ItemId)
                            .col(ItemFeedback::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_item_feedback_item")
                            .from(ItemFeedback::Table, ItemFeedback::ItemId)
                            .to(ThreadItems::Table, ThreadItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut cascade_to_thread(
                        "fk_item_feedback_thread",
                        ItemFeedback::Table,
                        ItemFeedback::ThreadId,
                    ))
                    .to_owned(),
            )
            .await?;
        // Without it, deleting a thread would scan every rating for the cascade.
        index(
            manager,
            "ix_item_feedback_thread",
            ItemFeedback::Table,
            vec![ItemFeedback::ThreadId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ItemFeedback::Table.into_iden(),
            StudyStates::Table.into_iden(),
            ThreadItems::Table.into_iden(),
            Threads::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
