//! BookStore on SeaORM (Postgres and SQLite): one `book_lessons` row per synced lesson (its
//! stamp, title and analysis as JSON) and one `book_sections` row per section, with the
//! full-text index beside them (see `search`).
//!
//! `put` replaces a lesson and all its sections in one transaction, so a search never sees half
//! a lesson and running it twice leaves the same rows. On Postgres the index is a generated
//! column the database keeps in step; on SQLite the FTS5 rows are written in that same
//! transaction.

mod entities;
pub mod search;
pub mod vector;

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use self::entities::{lesson, section};
use super::{Database, Engine, classify, txn};
use crate::domain::book::LessonAnalysis;
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{
    BookStore, IndexVersion, LessonStamp, SearchHit, SectionVector, StoreError, SyncedLesson,
};

/// Section rows per `INSERT` (5 values each: far below either engine's bind-parameter limit).
const SECTION_ROWS_PER_INSERT: usize = 500;
/// Paths per `DELETE … WHERE path IN (…)`.
const PATHS_PER_DELETE: usize = 500;

/// [`BookStore`] over the service's relational database.
#[derive(Debug, Clone)]
pub struct SqlBookStore {
    db: Database,
}

impl SqlBookStore {
    /// A store on `db`, whose schema must be migrated (see [`super::migrations::run`]).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    fn fts(&self) -> bool {
        self.db.engine() == Engine::Sqlite
    }
}

#[async_trait]
impl BookStore for SqlBookStore {
    async fn stamp(&self, path: &LessonPath) -> Result<Option<LessonStamp>, StoreError> {
        self.db
            .read("read lesson stamp", async {
                let row = lesson::Entity::find_by_id(path.as_str())
                    .select_only()
                    .columns([
                        lesson::Column::Version,
                        lesson::Column::Etag,
                        lesson::Column::ContentHash,
                        lesson::Column::SyncedAt,
                    ])
                    .into_tuple::<(Option<String>, Option<String>, String, i64)>()
                    .one(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "read lesson stamp"))?;
                row.map(|(version, etag, content_hash, synced_at)| {
                    Ok(LessonStamp {
                        version,
                        etag,
                        content_hash,
                        synced_at: txn::instant(synced_at, &format!("lesson {path}"))?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn put(&self, lesson: &SyncedLesson) -> Result<(), StoreError> {
        let row = lesson_row(lesson)?;
        let sections = section_rows(lesson)?;
        self.db
            .write("put lesson", async {
                let txn = txn::begin(&self.db).await?;
                let result = self.replace(&txn, row, sections, lesson).await;
                txn::finish(txn, result, "put lesson").await
            })
            .await
    }

    async fn remove(&self, paths: &[LessonPath]) -> Result<u64, StoreError> {
        if paths.is_empty() {
            return Ok(0);
        }
        self.db
            .write("remove lessons", async {
                let txn = txn::begin(&self.db).await?;
                let result = async {
                    let mut removed = 0;
                    for chunk in paths.chunks(PATHS_PER_DELETE) {
                        let chunk: Vec<&str> = chunk.iter().map(LessonPath::as_str).collect();
                        removed += self.remove_chunk(&txn, &chunk).await?;
                    }
                    Ok(removed)
                }
                .await;
                txn::finish(txn, result, "remove lessons").await
            })
            .await
    }

    async fn paths(&self) -> Result<Vec<LessonPath>, StoreError> {
        self.db
            .read("list synced lessons", async {
                let paths = lesson::Entity::find()
                    .select_only()
                    .column(lesson::Column::Path)
                    .order_by_asc(lesson::Column::Path)
                    .into_tuple::<String>()
                    .all(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "list synced lessons"))?;
                Ok(paths.into_iter().map(LessonPath::new_unchecked).collect())
            })
            .await
    }

    async fn analyses(&self) -> Result<Vec<LessonAnalysis>, StoreError> {
        self.db
            .read("read lesson analyses", async {
                let rows = lesson::Entity::find()
                    .select_only()
                    .columns([lesson::Column::Path, lesson::Column::Analysis])
                    .order_by_asc(lesson::Column::Path)
                    .into_tuple::<(String, String)>()
                    .all(self.db.connection())
                    .await
                    .map_err(|e| classify(e, "read lesson analyses"))?;
                rows.into_iter()
                    .map(|(path, json)| {
                        serde_json::from_str(&json).map_err(|e| {
                            StoreError::Unexpected(
                                anyhow::Error::new(e).context(format!("analysis of lesson {path}")),
                            )
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError> {
        self.db
            .read("search book", search::search(&self.db, query, limit))
            .await
    }

    async fn vectors(&self, limit: u32) -> Result<Vec<SectionVector>, StoreError> {
        self.db
            .read("read section vectors", search::vectors(&self.db, limit))
            .await
    }

    async fn sections(&self, keys: &[(LessonPath, u32)]) -> Result<Vec<SearchHit>, StoreError> {
        self.db
            .read("read sections", search::sections(&self.db, keys))
            .await
    }

    async fn version(&self) -> Result<IndexVersion, StoreError> {
        self.db
            .read("read index version", search::version(&self.db))
            .await
    }
}

impl SqlBookStore {
    /// Upserts the lesson row, then replaces its sections (and FTS rows).
    async fn replace(
        &self,
        txn: &DatabaseTransaction,
        row: lesson::ActiveModel,
        sections: Vec<section::ActiveModel>,
        lesson: &SyncedLesson,
    ) -> Result<(), StoreError> {
        let path = lesson.analysis.path.as_str();
        let on_conflict = OnConflict::column(lesson::Column::Path)
            .update_columns([
                lesson::Column::Version,
                lesson::Column::Etag,
                lesson::Column::ContentHash,
                lesson::Column::Title,
                lesson::Column::Analysis,
                lesson::Column::SyncedAt,
            ])
            .to_owned();
        lesson::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(txn)
            .await
            .map_err(|e| classify(e, "upsert lesson"))?;
        section::Entity::delete_many()
            .filter(section::Column::Path.eq(path))
            .exec(txn)
            .await
            .map_err(|e| classify(e, "delete lesson sections"))?;
        let mut rows = sections.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(SECTION_ROWS_PER_INSERT).collect();
            section::Entity::insert_many(chunk)
                .exec_without_returning(txn)
                .await
                .map_err(|e| classify(e, "insert lesson sections"))?;
        }
        if self.fts() {
            search::delete_fts(txn, &[path]).await?;
            search::insert_fts(txn, path, &lesson.sections).await?;
        }
        Ok(())
    }

    /// Removes the lessons of `paths` with their sections (and FTS rows); returns how many
    /// lessons were there.
    async fn remove_chunk(
        &self,
        txn: &DatabaseTransaction,
        paths: &[&str],
    ) -> Result<u64, StoreError> {
        if self.fts() {
            search::delete_fts(txn, paths).await?;
        }
        // The foreign key cascades too; deleting the sections first does not rely on it.
        section::Entity::delete_many()
            .filter(section::Column::Path.is_in(paths.iter().copied()))
            .exec(txn)
            .await
            .map_err(|e| classify(e, "delete lesson sections"))?;
        let done = lesson::Entity::delete_many()
            .filter(lesson::Column::Path.is_in(paths.iter().copied()))
            .exec(txn)
            .await
            .map_err(|e| classify(e, "delete lessons"))?;
        Ok(done.rows_affected)
    }
}

/// The `book_lessons` row of a lesson.
fn lesson_row(lesson: &SyncedLesson) -> Result<lesson::ActiveModel, StoreError> {
    let analysis = &lesson.analysis;
    let json = serde_json::to_string(analysis).map_err(|e| {
        StoreError::Unexpected(
            anyhow::Error::new(e).context(format!("encode analysis of lesson {}", analysis.path)),
        )
    })?;
    Ok(lesson::ActiveModel {
        path: Set(analysis.path.as_str().to_owned()),
        version: Set(lesson.stamp.version.clone()),
        etag: Set(lesson.stamp.etag.clone()),
        content_hash: Set(lesson.stamp.content_hash.clone()),
        title: Set(analysis.title.clone()),
        analysis: Set(json),
        synced_at: Set(lesson.stamp.synced_at.timestamp_micros()),
    })
}

/// The `book_sections` rows of a lesson.
fn section_rows(lesson: &SyncedLesson) -> Result<Vec<section::ActiveModel>, StoreError> {
    let path = lesson.analysis.path.as_str();
    lesson
        .sections
        .iter()
        .map(|s| {
            let idx = i32::try_from(s.index)
                .map_err(|_| anyhow!("lesson {path} has section index {} out of range", s.index))?;
            Ok(section::ActiveModel {
                path: Set(path.to_owned()),
                idx: Set(idx),
                title: Set(s.title.clone()),
                body: Set(s.text.clone()),
                vector: Set(s.vector.as_deref().map(vector::encode)),
            })
        })
        .collect()
}
