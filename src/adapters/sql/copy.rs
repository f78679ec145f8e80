//! `db copy`: every table of one database into another (SQLite → Postgres, or any direction),
//! in keyset batches of idempotent upserts, then verified by row counts and order-independent
//! checksums read back from both sides.
//!
//! Both databases must be migrated to this version's schema first (the CLI does it). A target
//! that already holds rows is refused unless forced; forced, every row is an upsert keyed by its
//! primary key, so a copy that was interrupted, or one run twice, converges on the source. What
//! is not copied and why is listed in [`tables::NOT_COPIED`]; derived search data is rebuilt on
//! the target instead of copied.

mod checksum;
mod io;
mod tables;

use std::collections::BTreeSet;

pub use self::checksum::TableSum;
use self::io::Pool;
use self::tables::{Kind, TABLES, TableSpec};
use super::Database;

/// Most rows per batch (12 columns × 2,000 rows stays under SQLite's 32,766 parameters).
pub const MAX_BATCH: u32 = 2_000;
/// Rows per batch when not told.
pub const DEFAULT_BATCH: u32 = 500;

/// How to copy.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// Rows read and written per statement (1..=[`MAX_BATCH`]).
    pub batch: u32,
    /// Copy into a target that already holds rows (upserting by primary key).
    pub force: bool,
}

/// What the copy tells whoever watches it (the CLI draws progress bars).
pub trait CopyProgress {
    /// A table's copy begins; `rows` is the source's count.
    fn table_started(&self, table: &str, rows: u64);
    /// `rows` more rows of the current table are in the target.
    fn rows_copied(&self, rows: u64);
    /// The current table is done.
    fn table_finished(&self);
    /// Verification of the table begins.
    fn verifying(&self, table: &str);
}

/// One table's verification.
#[derive(Debug, Clone)]
pub struct TableCheck {
    /// Table name.
    pub table: &'static str,
    /// Rows and checksum of the source.
    pub source: TableSum,
    /// Rows and checksum of the target.
    pub target: TableSum,
}

impl TableCheck {
    /// Same rows on both sides.
    pub fn matches(&self) -> bool {
        self.source == self.target
    }
}

/// The outcome of a copy.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// Every copied table, in copy order.
    pub tables: Vec<TableCheck>,
    /// Search rows rebuilt on a SQLite target.
    pub search_rows_rebuilt: Option<u64>,
    /// Unfinished book sync tasks in the source queue (not copied).
    pub unfinished_jobs: Option<u64>,
    /// Tables not copied, with the reason.
    pub not_copied: &'static [(&'static str, &'static str)],
}

impl CopyReport {
    /// Whether every table's count and checksum match.
    pub fn verified(&self) -> bool {
        self.tables.iter().all(TableCheck::matches)
    }
}

/// Why a copy did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds rows and the copy was not forced.
    #[error("the target database is not empty ({}); pass --force to copy into it anyway (rows with the same primary key are overwritten)", describe(.0))]
    TargetNotEmpty(Vec<(&'static str, u64)>),
    /// A database's schema has tables or columns this version does not know how to copy.
    #[error("{0}")]
    Schema(String),
    /// A database refused a statement.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: String,
        /// The driver's error.
        source: sea_orm::sqlx::Error,
    },
    /// A row could not be canonicalised.
    #[error("{0}")]
    Data(String),
}

fn describe(tables: &[(&'static str, u64)]) -> String {
    tables
        .iter()
        .map(|(t, n)| format!("{t}: {n} rows"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn db_err(context: impl Into<String>) -> impl FnOnce(sea_orm::sqlx::Error) -> CopyError {
    let context = context.into();
    move |source| CopyError::Database { context, source }
}

/// Copies every table of `from` into `to` and verifies the result. Both must be migrated.
///
/// # Errors
/// See [`CopyError`]. A verification mismatch is not an error: see [`CopyReport::verified`].
pub async fn copy(
    from: &Database,
    to: &Database,
    options: CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    let batch = options.batch.clamp(1, MAX_BATCH);
    let source = Pool::of(from);
    let target = Pool::of(to);
    check_schema(&source, "source").await?;
    check_schema(&target, "target").await?;

    let mut filled = Vec::new();
    for spec in TABLES {
        let n = target
            .count(spec.name)
            .await
            .map_err(db_err(format!("count {} in the target", spec.name)))?;
        if n > 0 {
            filled.push((spec.name, n));
        }
    }
    if !filled.is_empty() && !options.force {
        return Err(CopyError::TargetNotEmpty(filled));
    }

    for spec in TABLES {
        copy_table(&source, &target, spec, batch, progress).await?;
    }
    let search_rows_rebuilt = target
        .rebuild_search()
        .await
        .map_err(db_err("rebuild the search index of the target"))?;

    let mut checks = Vec::new();
    for spec in TABLES {
        progress.verifying(spec.name);
        checks.push(TableCheck {
            table: spec.name,
            source: table_sum(&source, spec, batch, "source").await?,
            target: table_sum(&target, spec, batch, "target").await?,
        });
    }
    Ok(CopyReport {
        tables: checks,
        search_rows_rebuilt,
        unfinished_jobs: source.unfinished_jobs().await,
        not_copied: tables::NOT_COPIED,
    })
}

/// Refuses a schema with a table or column the copy does not know (it would be lost), or
/// without one it expects (the database was not migrated by this version).
async fn check_schema(pool: &Pool, side: &str) -> Result<(), CopyError> {
    let found: BTreeSet<String> = pool
        .tables()
        .await
        .map_err(db_err(format!("list the tables of the {side}")))?
        .into_iter()
        .collect();
    let mut problems = Vec::new();
    for table in &found {
        if !tables::skipped(table) && !TABLES.iter().any(|t| t.name == table) {
            problems.push(format!("table {table} is not known to this version's copy"));
        }
    }
    for spec in TABLES {
        if !found.contains(spec.name) {
            problems.push(format!("table {} is missing", spec.name));
            continue;
        }
        let columns: BTreeSet<String> = pool
            .columns(spec.name)
            .await
            .map_err(db_err(format!(
                "list the columns of {} in the {side}",
                spec.name
            )))?
            .into_iter()
            .collect();
        let expected: BTreeSet<String> =
            spec.columns.iter().map(|(c, _)| (*c).to_string()).collect();
        for extra in columns.difference(&expected) {
            problems.push(format!(
                "column {}.{extra} is not known to this version's copy",
                spec.name
            ));
        }
        for missing in expected.difference(&columns) {
            problems.push(format!("column {}.{missing} is missing", spec.name));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CopyError::Schema(format!(
            "the {side} database's schema is not the one this version copies: {}",
            problems.join("; ")
        )))
    }
}

/// The primary key cells of `row`.
fn key_of(spec: &TableSpec, row: &[checksum::Cell]) -> Vec<checksum::Cell> {
    spec.key
        .iter()
        .filter_map(|k| spec.position(k).map(|i| row[i].clone()))
        .collect()
}

async fn copy_table(
    source: &Pool,
    target: &Pool,
    spec: &TableSpec,
    batch: u32,
    progress: &dyn CopyProgress,
) -> Result<(), CopyError> {
    let total = source
        .count(spec.name)
        .await
        .map_err(db_err(format!("count {} in the source", spec.name)))?;
    progress.table_started(spec.name, total);
    let mut after: Option<Vec<checksum::Cell>> = None;
    loop {
        let rows = source
            .batch(spec, after.as_deref(), batch)
            .await
            .map_err(db_err(format!("read {} from the source", spec.name)))?;
        let Some(last) = rows.last() else { break };
        after = Some(key_of(spec, last));
        target
            .upsert(spec, &rows)
            .await
            .map_err(db_err(format!("write {} into the target", spec.name)))?;
        progress.rows_copied(rows.len() as u64);
        if rows.len() < batch as usize {
            break;
        }
    }
    progress.table_finished();
    Ok(())
}

/// Rows and checksum of one table, read in keyset batches.
async fn table_sum(
    pool: &Pool,
    spec: &TableSpec,
    batch: u32,
    side: &str,
) -> Result<TableSum, CopyError> {
    let kinds: Vec<Kind> = spec.columns.iter().map(|(_, k)| *k).collect();
    let mut sum = TableSum::default();
    let mut after: Option<Vec<checksum::Cell>> = None;
    loop {
        let rows = pool
            .batch(spec, after.as_deref(), batch)
            .await
            .map_err(db_err(format!("read {} from the {side}", spec.name)))?;
        let Some(last) = rows.last() else { break };
        after = Some(key_of(spec, last));
        for row in &rows {
            let canonical = checksum::canonical_row(&kinds, row)
                .map_err(|e| CopyError::Data(format!("{} in the {side}: {e}", spec.name)))?;
            sum.add(&canonical);
        }
        if rows.len() < batch as usize {
            break;
        }
    }
    Ok(sum)
}
