//! The SQL `db copy` runs on either engine: schema introspection, counts, keyset batches out of
//! a table and idempotent upserts into it, and the SQLite search index rebuild.

use sea_orm::sqlx::postgres::PgPool;
use sea_orm::sqlx::sqlite::SqlitePool;
use sea_orm::sqlx::{self, AssertSqlSafe, Decode, Encode, Row, Type};

use super::checksum::Cell;
use super::tables::{Kind, TableSpec};
use crate::adapters::sql::{Database, Engine};

/// A database's pool, by engine.
#[derive(Clone)]
pub(super) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// `"name"`: identifiers come from [`super::tables::TABLES`], never from input, and are quoted
/// anyway so that a reserved word stays a name.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn decode<'r, R>(row: &'r R, i: usize, kind: Kind) -> Result<Cell, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(match kind {
        Kind::Text | Kind::Json => row.try_get::<Option<String>, _>(i)?.map(Cell::Text),
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Cell::Int),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Cell::Bool),
        Kind::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Cell::Blob),
    }
    .unwrap_or(Cell::Null))
}

/// Binds `cell` with the SQL type of `kind`, so that a NULL is a NULL of the column's type.
fn bind<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    kind: Kind,
    cell: &Cell,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<Vec<u8>>: Encode<'q, DB> + Type<DB>,
{
    match kind {
        Kind::Text | Kind::Json => query.bind(match cell {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        }),
        Kind::Int => query.bind(match cell {
            Cell::Int(i) => Some(*i),
            Cell::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }),
        Kind::Bool => query.bind(match cell {
            Cell::Bool(b) => Some(*b),
            Cell::Int(i) => Some(*i != 0),
            _ => None,
        }),
        Kind::Blob => query.bind(match cell {
            Cell::Blob(b) => Some(b.clone()),
            _ => None,
        }),
    }
}

/// Placeholder number `n` (1-based) of the engine.
fn placeholder(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Postgres => format!("${n}"),
        Engine::Sqlite => format!("?{n}"),
    }
}

/// `SELECT` of one keyset batch: rows after the key `after` (when given), in key order.
fn select_sql(engine: Engine, spec: &TableSpec, after: bool, limit: u32) -> String {
    let columns: Vec<String> = spec
        .columns
        .iter()
        .map(|(name, kind)| match (engine, kind) {
            // INTEGER columns read as BIGINT, JSONB as its text.
            (Engine::Postgres, Kind::Int) => format!("CAST({} AS BIGINT)", quoted(name)),
            (Engine::Postgres, Kind::Json) => format!("CAST({} AS TEXT)", quoted(name)),
            _ => quoted(name),
        })
        .collect();
    let key: Vec<String> = spec.key.iter().map(|k| quoted(k)).collect();
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), quoted(spec.name));
    if after {
        let params: Vec<String> = (1..=key.len()).map(|n| placeholder(engine, n)).collect();
        sql.push_str(&format!(
            " WHERE ({}) > ({})",
            key.join(", "),
            params.join(", ")
        ));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", key.join(", ")));
    sql
}

/// Multi-row `INSERT … ON CONFLICT (key) DO UPDATE` of `rows` rows: a row already in the target
/// is overwritten with the source's values, so a copy run again converges on the source.
fn upsert_sql(engine: Engine, spec: &TableSpec, rows: usize) -> String {
    let names: Vec<String> = spec.columns.iter().map(|(c, _)| quoted(c)).collect();
    let mut n = 0;
    let values: Vec<String> = (0..rows)
        .map(|_| {
            let row: Vec<String> = spec
                .columns
                .iter()
                .map(|(_, kind)| {
                    n += 1;
                    let p = placeholder(engine, n);
                    match (engine, kind) {
                        (Engine::Postgres, Kind::Json) => format!("CAST({p} AS JSONB)"),
                        _ => p,
                    }
                })
                .collect();
            format!("({})", row.join(", "))
        })
        .collect();
    let key: Vec<String> = spec.key.iter().map(|k| quoted(k)).collect();
    let updates: Vec<String> = spec
        .columns
        .iter()
        .filter(|(c, _)| !spec.key.contains(c))
        .map(|(c, _)| format!("{0} = excluded.{0}", quoted(c)))
        .collect();
    let action = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {action}",
        quoted(spec.name),
        names.join(", "),
        values.join(", "),
        key.join(", ")
    )
}

impl Pool {
    pub(super) fn of(db: &Database) -> Self {
        match db.engine() {
            Engine::Postgres => {
                Self::Postgres(db.connection().get_postgres_connection_pool().clone())
            }
            Engine::Sqlite => Self::Sqlite(db.connection().get_sqlite_connection_pool().clone()),
        }
    }

    pub(super) fn engine(&self) -> Engine {
        match self {
            Self::Postgres(_) => Engine::Postgres,
            Self::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// The base tables of the service's schema.
    pub(super) async fn tables(&self) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await
            }
            Self::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// The stored columns of `table` (a generated column is the database's, not data).
    pub(super) async fn columns(&self, table: &str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 \
                     AND is_generated = 'NEVER'",
                )
                .bind(table)
                .fetch_all(pool)
                .await
            }
            Self::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                    .bind(table)
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// Rows of `table`.
    pub(super) async fn count(&self, table: &str) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", quoted(table)));
        let n: i64 = match self {
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` rows of `spec` after the key `after`, in key order.
    pub(super) async fn batch(
        &self,
        spec: &TableSpec,
        after: Option<&[Cell]>,
        limit: u32,
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
        let sql = select_sql(self.engine(), spec, after.is_some(), limit);
        let key_kinds: Vec<Kind> = spec
            .key
            .iter()
            .filter_map(|k| spec.position(k).map(|i| spec.columns[i].1))
            .collect();
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query(AssertSqlSafe(sql));
                if let Some(after) = after {
                    for (kind, cell) in key_kinds.iter().zip(after) {
                        query = bind(query, *kind, cell);
                    }
                }
                let rows = query.fetch_all($pool).await?;
                rows.iter()
                    .map(|row| {
                        spec.columns
                            .iter()
                            .enumerate()
                            .map(|(i, (_, kind))| decode(row, i, *kind))
                            .collect::<Result<Vec<Cell>, _>>()
                    })
                    .collect()
            }};
        }
        match self {
            Self::Postgres(pool) => run!(pool),
            Self::Sqlite(pool) => run!(pool),
        }
    }

    /// Writes `rows` of `spec` in one transaction, replacing rows with the same key.
    pub(super) async fn upsert(
        &self,
        spec: &TableSpec,
        rows: &[Vec<Cell>],
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = upsert_sql(self.engine(), spec, rows.len());
        macro_rules! run {
            ($pool:expr) => {{
                let mut txn = $pool.begin().await?;
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for row in rows {
                    for ((_, kind), cell) in spec.columns.iter().zip(row) {
                        query = bind(query, *kind, cell);
                    }
                }
                query.execute(&mut *txn).await?;
                txn.commit().await
            }};
        }
        match self {
            Self::Postgres(pool) => run!(pool),
            Self::Sqlite(pool) => run!(pool),
        }
    }

    /// SQLite: rebuilds the FTS5 search rows from `book_sections` (Postgres keeps its
    /// generated `tsv` column by itself). Returns the rows indexed.
    pub(super) async fn rebuild_search(&self) -> Result<Option<u64>, sqlx::Error> {
        let Self::Sqlite(pool) = self else {
            return Ok(None);
        };
        let mut txn = pool.begin().await?;
        sqlx::query("DELETE FROM book_sections_fts")
            .execute(&mut *txn)
            .await?;
        let done = sqlx::query(
            "INSERT INTO book_sections_fts (path, idx, title, body) \
             SELECT path, idx, title, body FROM book_sections",
        )
        .execute(&mut *txn)
        .await?;
        txn.commit().await?;
        Ok(Some(done.rows_affected()))
    }

    /// Book sync queue tasks not yet ended (they are not copied); `None` when the queue's
    /// tables are not in this database.
    pub(super) async fn unfinished_jobs(&self) -> Option<u64> {
        const UNFINISHED: &str = "status IN ('Pending', 'Queued', 'Running')";
        let n: Result<i64, _> = match self {
            Self::Postgres(pool) => {
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM apalis.jobs WHERE {UNFINISHED}"
                )))
                .fetch_one(pool)
                .await
            }
            Self::Sqlite(pool) => {
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM Jobs WHERE {UNFINISHED}"
                )))
                .fetch_one(pool)
                .await
            }
        };
        n.ok().map(|n| u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tables::TABLES;
    use super::*;

    #[test]
    fn batches_are_keyset_pages_in_key_order() {
        let spec = TABLES.iter().find(|t| t.name == "book_sections").unwrap();
        let sql = select_sql(Engine::Postgres, spec, true, 100);
        assert!(
            sql.ends_with(r#"WHERE ("path", "idx") > ($1, $2) ORDER BY "path", "idx" LIMIT 100"#),
            "{sql}"
        );
        assert!(sql.contains(r#"CAST("idx" AS BIGINT)"#), "{sql}");
    }

    #[test]
    fn upserts_replace_every_non_key_column() {
        let spec = TABLES.iter().find(|t| t.name == "item_feedback").unwrap();
        let sql = upsert_sql(Engine::Sqlite, spec, 2);
        assert!(
            sql.contains("VALUES (?1, ?2, ?3, ?4, ?5, ?6), (?7, "),
            "{sql}"
        );
        assert!(sql.contains(r#"ON CONFLICT ("item_id", "user_id") DO UPDATE SET "thread_id" = excluded."thread_id""#), "{sql}");
        assert!(!sql.contains(r#""user_id" = excluded"#), "{sql}");
    }
}
