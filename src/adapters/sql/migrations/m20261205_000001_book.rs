//! The synced book and its search index, and the record of sync runs.
//!
//! Same conventions as the other migrations: `IF NOT EXISTS`, instants as BIGINT microseconds
//! since the Unix epoch. The full-text index differs by engine, so it is raw SQL: on Postgres a
//! generated `tsvector` column of `book_sections` with a GIN index (kept in step by the
//! database); on SQLite an FTS5 table the store writes in the same transaction as the sections.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, blob_null, integer, string_len, text, text_null,
};

use crate::domain::lesson::MAX_LESSON_PATH_CHARS;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BookLessons {
    Table,
    Path,
    Version,
    Etag,
    ContentHash,
    Title,
    Analysis,
    SyncedAt,
}

#[derive(DeriveIden)]
enum BookSections {
    Table,
    Path,
    Idx,
    Title,
    Body,
    Vector,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    Scope,
    RequestedBy,
    CreatedAt,
    ListedAt,
    Error,
    TaskId,
}

#[derive(DeriveIden)]
enum SyncRunLessons {
    Table,
    RunId,
    Path,
    Outcome,
    Attempts,
    Error,
    TaskId,
    UpdatedAt,
}

/// Postgres: the sections' text as a `tsvector`, computed by the database on every write.
const PG_TSV: &str = "ALTER TABLE book_sections ADD COLUMN IF NOT EXISTS tsv tsvector \
     GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED";
const PG_TSV_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS ix_book_sections_tsv ON book_sections USING GIN (tsv)";
/// SQLite: the sections' text in an FTS5 table (porter stemming, like Postgres' `english`).
const SQLITE_FTS: &str = "CREATE VIRTUAL TABLE IF NOT EXISTS book_sections_fts USING fts5(\
     path UNINDEXED, idx UNINDEXED, title, body, tokenize = 'porter unicode61')";

fn path_column<T: IntoIden>(col: T) -> ColumnDef {
    // The bound every LessonPath already obeys, kept by the schema too.
    string_len(
        col,
        <u32 as TryFrom<usize>>::try_from(MAX_LESSON_PATH_CHARS).unwrap_or(u32::MAX),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BookLessons::Table)
                    .if_not_exists()
                    .col(path_column(BookLessons::Path).primary_key())
                    .col(text_null(BookLessons::Version))
                    .col(text_null(BookLessons::Etag))
                    // Lowercase hex SHA-256 of the markdown.
                    .col(text(BookLessons::ContentHash))
                    .col(text(BookLessons::Title))
                    // The LessonAnalysis as JSON.
                    .col(text(BookLessons::Analysis))
                    .col(big_integer(BookLessons::SyncedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BookSections::Table)
                    .if_not_exists()
                    .col(path_column(BookSections::Path))
                    .col(integer(BookSections::Idx))
                    .col(text(BookSections::Title))
                    .col(text(BookSections::Body))
                    // f32 little-endian, when an embeddings model is configured.
                    .col(blob_null(BookSections::Vector))
                    .primary_key(
                        Index::create()
                            .col(BookSections::Path)
                            .col(BookSections::Idx),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_book_sections_lesson")
                            .from(BookSections::Table, BookSections::Path)
                            .to(BookLessons::Table, BookLessons::Path)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                conn.execute_unprepared(PG_TSV).await?;
                conn.execute_unprepared(PG_TSV_INDEX).await?;
            }
            _ => {
                conn.execute_unprepared(SQLITE_FTS).await?;
            }
        }

        manager
            .create_table(
                Table::create()
                    .table(SyncRuns::Table)
                    .if_not_exists()
                    // A UUID v7, hyphenated lowercase.
                    .col(text(SyncRuns::Id).primary_key())
                    // The SyncScope as JSON.
                    .col(text(SyncRuns::Scope))
                    .col(text(SyncRuns::RequestedBy))
                    .col(big_integer(SyncRuns::CreatedAt))
                    .col(big_integer_null(SyncRuns::ListedAt))
                    .col(text_null(SyncRuns::Error))
                    .col(text_null(SyncRuns::TaskId))
                    .to_owned(),
            )
            .await?;
        // Runs are listed newest first.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_sync_runs_created")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::CreatedAt)
                    .col(SyncRuns::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncRunLessons::Table)
                    .if_not_exists()
                    .col(text(SyncRunLessons::RunId))
                    .col(path_column(SyncRunLessons::Path))
                    // LessonOutcome::as_str.
                    .col(text(SyncRunLessons::Outcome))
                    .col(integer(SyncRunLessons::Attempts))
                    .col(text_null(SyncRunLessons::Error))
                    .col(text_null(SyncRunLessons::TaskId))
                    .col(big_integer(SyncRunLessons::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(SyncRunLessons::RunId)
                            .col(SyncRunLessons::Path),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_run_lessons_run")
                            .from(SyncRunLessons::Table, SyncRunLessons::RunId)
                            .to(SyncRuns::Table, SyncRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS book_sections_fts")
                .await?;
        }
        for table in [
            SyncRunLessons::Table.into_iden(),
            SyncRuns::Table.into_iden(),
            BookSections::Table.into_iden(),
            BookLessons::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
