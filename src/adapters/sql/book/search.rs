//! Full-text search of the sections, and SQLite's FTS5 rows that back it.
//!
//! A client's query is reduced to plain words first (bounded, letters and digits only), so no
//! query syntax ever reaches the backend. Every word is required on both engines: Postgres
//! through `plainto_tsquery('english', …)` (which ANDs its words), SQLite through an FTS5 query
//! of the words each double-quoted and joined by `AND`; hits are ranked by `ts_rank` and by
//! `bm25` (a title match weighs twice a body match) respectively.

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DeriveIden, ExprTrait, Statement, Value,
};

use crate::adapters::sql::{Database, Engine, classify};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{IndexedSection, SearchHit, StoreError};

/// Longest query considered, in characters (the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of a query considered (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 16;
/// Most hits one search returns.
pub const MAX_HITS: u32 = 50;

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

/// The words of a client's query: its first [`MAX_QUERY_CHARS`] characters split at anything
/// that is not a letter or a digit, at most [`MAX_QUERY_WORDS`] of them.
pub fn query_words(raw: &str) -> Vec<String> {
    let bounded: String = raw.chars().take(MAX_QUERY_CHARS).collect();
    bounded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_QUERY_WORDS)
        .map(str::to_owned)
        .collect()
}

/// The FTS5 query of `words`: each a quoted string (so `OR`, `NEAR` or `title` are just words),
/// all required. Words hold letters and digits only, so none contains a quote.
fn fts5_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The statement of a search for `words`, at most `limit` hits, best first.
fn statement(engine: Engine, words: &[String], limit: u32) -> Statement {
    let limit = Value::from(i64::from(limit));
    match engine {
        Engine::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT s.path, s.idx::int8, s.title, ts_rank(s.tsv, q.query)::float8 AS score \
             FROM book_sections s, plainto_tsquery('english', $1) AS q(query) \
             WHERE s.tsv @@ q.query \
             ORDER BY score DESC, s.path, s.idx LIMIT $2",
            [Value::from(words.join(" ")), limit],
        ),
        Engine::Sqlite => Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT path, CAST(idx AS INTEGER), title, \
             -bm25(book_sections_fts, 0.0, 0.0, 2.0, 1.0) AS score \
             FROM book_sections_fts WHERE book_sections_fts MATCH ? \
             ORDER BY score DESC, path, CAST(idx AS INTEGER) LIMIT ?",
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
            })
        })
        .collect()
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
    fn query_syntax_is_reduced_to_plain_words() {
        assert_eq!(
            query_words(r#" "ownership" OR borrow* -lifetimes title:traits (a NEAR b) "#),
            [
                "ownership",
                "OR",
                "borrow",
                "lifetimes",
                "title",
                "traits",
                "a",
                "NEAR",
                "b"
            ]
        );
        assert_eq!(query_words("l'été 2024"), ["l", "été", "2024"]);
        assert!(query_words(r#" "*:-^()' "#).is_empty());
    }

    #[test]
    fn a_query_is_bounded_in_characters_and_words() {
        let many = "word ".repeat(100);
        assert_eq!(query_words(&many).len(), MAX_QUERY_WORDS);
        let long = format!("{} tail", "x".repeat(300));
        assert_eq!(query_words(&long), ["x".repeat(MAX_QUERY_CHARS)]);
    }

    #[test]
    fn every_fts5_word_is_quoted_and_required() {
        let words = query_words("NEAR OR borrow");
        assert_eq!(fts5_query(&words), r#""NEAR" AND "OR" AND "borrow""#);
    }
}
