//! Full-text search of the sections, and SQLite's FTS5 rows that back it.
//!
//! A client's query is reduced to plain words first ([`query_words`]: bounded, letters and
//! digits only, stop words dropped), so no query syntax ever reaches the backend. Any word
//! may match: Postgres gets the words joined by `or` through `websearch_to_tsquery('english',
//! …)` (which never fails on its input), SQLite an FTS5 query of the words each double-quoted
//! and joined by `OR`. Hits are ranked by `ts_rank` (normalised by the section's length) and by
//! `bm25` (a title match weighs twice a body match) respectively, so a section matching more
//! (and, on SQLite, rarer) words comes first.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, DeriveIden,
    EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::entities::{lesson, section};
use super::vector;
use crate::adapters::sql::{Database, Engine, classify};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{IndexVersion, IndexedSection, SearchHit, SectionVector, StoreError};
pub use crate::domain::search::query_words;

/// Most hits one search returns.
pub const MAX_HITS: u32 = 50;
/// Sections read by key per `SELECT` (2 values each).
const KEYS_PER_SELECT: usize = 100;

/// FTS rows per `INSERT` (4 values each: far below either engine's bind-parameter limit).
const FTS_ROWS_PER_INSERT: usize = 500;

#[derive(DeriveIden)]
enum BookSectionsFts {
    Table,
    Path,
    Idx,
    Title,
    Body,
}

/// The FTS5 query of `words`: each a quoted string (so `OR`, `NEAR` or `title` are just words),
/// any of them matching. Words hold letters and digits only, so none contains a quote.
fn fts5_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The `websearch_to_tsquery` input of `words`: any of them matching. `or` is a stop word, so
/// never one of the words.
fn websearch_query(words: &[String]) -> String {
    words.join(" or ")
}

/// The statement of a search for `words`, at most `limit` hits, best first.
fn statement(engine: Engine, words: &[String], limit: u32) -> Statement {
    let limit = Value::from(i64::from(limit));
    match engine {
        Engine::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT s.path, s.idx::int8, s.title, ts_rank(s.tsv, q.query, 1)::float8 AS score, \
             l.title, s.body \
             FROM book_sections s \
             JOIN book_lessons l ON l.path = s.path, \
             websearch_to_tsquery('english', $1) AS q(query) \
             WHERE s.tsv @@ q.query \
             ORDER BY score DESC, s.path, s.idx LIMIT $2",
            [Value::from(websearch_query(words)), limit],
        ),
        Engine::Sqlite => Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT book_sections_fts.path, CAST(book_sections_fts.idx AS INTEGER), \
             book_sections_fts.title, \
             -bm25(book_sections_fts, 0.0, 0.0, 2.0, 1.0) AS score, \
             l.title, book_sections_fts.body \
             FROM book_sections_fts \
             JOIN book_lessons l ON l.path = book_sections_fts.path \
             WHERE book_sections_fts MATCH ? \
             ORDER BY score DESC, book_sections_fts.path, \
             CAST(book_sections_fts.idx AS INTEGER) LIMIT ?",
            [Value::from(fts5_query(words)), limit],
        ),
    }
}

/// Searches the sections for a client's `query`; at most `limit` (clamped to 1..=[`MAX_HITS`])
/// hits, best first. A query without words finds nothing.
pub(super) async fn search(
    db: &Database,
    query: &str,
    limit: u32,
) -> Result<Vec<SearchHit>, StoreError> {
    let words = query_words(query);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = statement(db.engine(), &words, limit.clamp(1, MAX_HITS));
    let rows = db
        .connection()
        .query_all_raw(stmt)
        .await
        .map_err(|e| classify(e, "search book"))?;
    rows.iter()
        .map(|row| {
            let read = |e| classify(e, "read search hit");
            let index: i64 = row.try_get_by_index(1).map_err(read)?;
            Ok(SearchHit {
                path: LessonPath::new_unchecked(row.try_get_by_index::<String>(0).map_err(read)?),
                index: u32::try_from(index).map_err(|_| {
                    StoreError::Unexpected(anyhow::anyhow!("section index {index} out of range"))
                })?,
                title: row.try_get_by_index(2).map_err(read)?,
                score: row.try_get_by_index(3).map_err(read)?,
                lesson_title: row.try_get_by_index(4).map_err(read)?,
                text: row.try_get_by_index(5).map_err(read)?,
            })
        })
        .collect()
}

/// The stored embeddings, sorted by path and position, at most `limit`; a vector whose bytes
/// are not whole floats is skipped (and logged).
pub(super) async fn vectors(db: &Database, limit: u32) -> Result<Vec<SectionVector>, StoreError> {
    let rows = section::Entity::find()
        .select_only()
        .columns([
            section::Column::Path,
            section::Column::Idx,
            section::Column::Vector,
        ])
        .filter(section::Column::Vector.is_not_null())
        .order_by_asc(section::Column::Path)
        .order_by_asc(section::Column::Idx)
        .limit(u64::from(limit))
        .into_tuple::<(String, i32, Option<Vec<u8>>)>()
        .all(db.connection())
        .await
        .map_err(|e| classify(e, "read section vectors"))?;
    Ok(rows
        .into_iter()
        .filter_map(|(path, idx, bytes)| {
            let vector = bytes.as_deref().and_then(vector::decode);
            let index = u32::try_from(idx).ok();
            match (vector, index) {
                (Some(vector), Some(index)) => Some(SectionVector {
                    path: LessonPath::new_unchecked(path),
                    index,
                    vector,
                }),
                _ => {
                    tracing::warn!(%path, idx, "section vector unreadable; skipped");
                    None
                }
            }
        })
        .collect())
}

/// The sections at `keys`, in that order, with their lessons' titles and score 0.
pub(super) async fn sections(
    db: &Database,
    keys: &[(LessonPath, u32)],
) -> Result<Vec<SearchHit>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<(String, i64), SearchHit> = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_SELECT) {
        let mut any = Condition::any();
        for (path, index) in chunk {
            any = any.add(
                Condition::all()
                    .add(section::Column::Path.eq(path.as_str()))
                    .add(section::Column::Idx.eq(i64::from(*index))),
            );
        }
        let rows = section::Entity::find()
            .select_only()
            .columns([
                section::Column::Path,
                section::Column::Idx,
                section::Column::Title,
                section::Column::Body,
            ])
            .filter(any)
            .into_tuple::<(String, i32, String, String)>()
            .all(db.connection())
            .await
            .map_err(|e| classify(e, "read sections"))?;
        let paths: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let titles: HashMap<String, String> = lesson::Entity::find()
            .select_only()
            .columns([lesson::Column::Path, lesson::Column::Title])
            .filter(lesson::Column::Path.is_in(paths))
            .into_tuple::<(String, String)>()
            .all(db.connection())
            .await
            .map_err(|e| classify(e, "read lesson titles"))?
            .into_iter()
            .collect();
        for (path, idx, title, body) in rows {
            let (Some(lesson_title), Ok(index)) = (titles.get(&path), u32::try_from(idx)) else {
                continue;
            };
            let hit = SearchHit {
                path: LessonPath::new_unchecked(path.clone()),
                index,
                title,
                score: 0.0,
                lesson_title: lesson_title.clone(),
                text: body,
            };
            found.insert((path, i64::from(idx)), hit);
        }
    }
    Ok(keys
        .iter()
        .filter_map(|(path, index)| found.remove(&(path.as_str().to_owned(), i64::from(*index))))
        .collect())
}

/// How many lessons the index holds and when the latest was synced.
pub(super) async fn version(db: &Database) -> Result<IndexVersion, StoreError> {
    let row = lesson::Entity::find()
        .select_only()
        .expr(Expr::col(lesson::Column::Path).count())
        .expr(Expr::col(lesson::Column::SyncedAt).max())
        .into_tuple::<(i64, Option<i64>)>()
        .one(db.connection())
        .await
        .map_err(|e| classify(e, "read index version"))?;
    let (lessons, latest_sync) = row.unwrap_or((0, None));
    Ok(IndexVersion {
        lessons: u64::try_from(lessons).unwrap_or_default(),
        latest_sync,
    })
}

/// SQLite: removes the FTS rows of `paths`.
pub(super) async fn delete_fts(
    txn: &DatabaseTransaction,
    paths: &[&str],
) -> Result<(), StoreError> {
    let stmt = Query::delete()
        .from_table(BookSectionsFts::Table)
        .and_where(Expr::col(BookSectionsFts::Path).is_in(paths.iter().copied()))
        .to_owned();
    txn.execute(&stmt)
        .await
        .map_err(|e| classify(e, "delete book search rows"))?;
    Ok(())
}

/// SQLite: writes the FTS rows of a lesson's sections (its old rows already deleted).
pub(super) async fn insert_fts(
    txn: &DatabaseTransaction,
    path: &str,
    sections: &[IndexedSection],
) -> Result<(), StoreError> {
    for chunk in sections.chunks(FTS_ROWS_PER_INSERT) {
        let mut stmt = Query::insert()
            .into_table(BookSectionsFts::Table)
            .columns([
                BookSectionsFts::Path,
                BookSectionsFts::Idx,
                BookSectionsFts::Title,
                BookSectionsFts::Body,
            ])
            .to_owned();
        for section in chunk {
            stmt.values([
                path.into(),
                i64::from(section.index).into(),
                section.title.as_str().into(),
                section.text.as_str().into(),
            ])
            .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("fts row")))?;
        }
        txn.execute(&stmt)
            .await
            .map_err(|e| classify(e, "insert book search rows"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fts5_word_is_quoted_and_any_may_match() {
        let words = query_words("NEAR OR borrow title:x");
        assert_eq!(
            fts5_query(&words),
            r#""near" OR "borrow" OR "title" OR "x""#
        );
    }

    #[test]
    fn the_postgres_query_ors_the_words() {
        let words = query_words("What does the agent loop do? -x \"y\"");
        assert_eq!(websearch_query(&words), "agent or loop or x or y");
    }
}
