//! Learner progress and question analytics: `study_states.lesson_path` (the lesson of the
//! thread, filled by every turn's commit and backfilled here from the thread's metadata) with
//! indexes to select states by learner and by lesson, and `thread_items.section` (the lesson
//! section a teach-mode tutor message is about, for feedback per section; unknown for items
//! written before).
//!
//! Idempotent like the others: a column is added only when missing, indexes `IF NOT EXISTS`,
//! and the backfill fills only rows still without a lesson.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use crate::domain::lesson::MAX_LESSON_PATH_CHARS;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StudyStates {
    Table,
    LessonPath,
    UserId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ThreadItems {
    Table,
    Section,
}

/// Postgres: the lesson of every state still without one, from its thread's metadata.
const PG_BACKFILL: &str = "UPDATE study_states SET lesson_path = (\
     SELECT LEFT(t.metadata->>'lesson_path', {max}) FROM threads t \
     WHERE t.id = study_states.thread_id) WHERE lesson_path IS NULL";
/// SQLite: the same with its JSON functions.
const SQLITE_BACKFILL: &str = "UPDATE study_states SET lesson_path = (\
     SELECT substr(json_extract(t.metadata, '$.lesson_path'), 1, {max}) FROM threads t \
     WHERE t.id = study_states.thread_id) WHERE lesson_path IS NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let max = <u32 as TryFrom<usize>>::try_from(MAX_LESSON_PATH_CHARS).unwrap_or(u32::MAX);
        if !manager.has_column("study_states", "lesson_path").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(StudyStates::Table)
                        .add_column(
                            ColumnDef::new(StudyStates::LessonPath)
                                .string_len(max)
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        if !manager.has_column("thread_items", "section").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(ThreadItems::Table)
                        .add_column(ColumnDef::new(ThreadItems::Section).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        // Analytics select a lesson's states, newest first.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_study_states_lesson_updated")
                    .table(StudyStates::Table)
                    .col(StudyStates::LessonPath)
                    .col(StudyStates::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        // Progress selects one learner's states, newest first.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_study_states_user_updated")
                    .table(StudyStates::Table)
                    .col(StudyStates::UserId)
                    .col(StudyStates::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => PG_BACKFILL,
            _ => SQLITE_BACKFILL,
        };
        manager
            .get_connection()
            .execute_unprepared(&backfill.replace("{max}", &max.to_string()))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [
            "ix_study_states_lesson_updated",
            "ix_study_states_user_updated",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .if_exists()
                        .name(index)
                        .table(StudyStates::Table)
                        .to_owned(),
                )
                .await?;
        }
        if manager.has_column("thread_items", "section").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(ThreadItems::Table)
                        .drop_column(ThreadItems::Section)
                        .to_owned(),
                )
                .await?;
        }
        if manager.has_column("study_states", "lesson_path").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(StudyStates::Table)
                        .drop_column(StudyStates::LessonPath)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
