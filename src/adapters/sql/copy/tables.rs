//! What `db copy` copies: every table of the schema with its columns and primary key, in an
//! order where each table comes after the tables its foreign keys point at, and what it
//! deliberately leaves out (with why). A schema that has a table or a column this list does not
//! know is refused before anything is written (see [`super::check_schema`]), so a later
//! migration cannot make the copy lose data silently.

/// How a column's values are read, written and canonicalised for the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// TEXT / VARCHAR.
    Text,
    /// INTEGER / BIGINT, read as a 64-bit integer on both engines.
    Int,
    /// BOOLEAN on Postgres, 0/1 INTEGER on SQLite.
    Bool,
    /// JSONB on Postgres, JSON text on SQLite; compared by meaning, not spelling.
    Json,
    /// BYTEA on Postgres, BLOB on SQLite.
    Blob,
}

/// One copied table.
#[derive(Debug)]
pub(super) struct TableSpec {
    /// Table name (the same on both engines).
    pub name: &'static str,
    /// Every stored column, with its kind.
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key's columns: keyset order and the upsert's conflict target.
    pub key: &'static [&'static str],
}

impl TableSpec {
    /// Index of a column in [`Self::columns`].
    pub fn position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(c, _)| *c == column)
    }
}

use Kind::{Blob, Bool, Int, Json, Text};

/// Every copied table, parents before children.
pub(super) const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "threads",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("organization_id", Text),
            ("title", Text),
            ("status", Text),
            ("metadata", Json),
            ("created_at", Int),
            ("updated_at", Int),
            ("turn_owner", Text),
            ("turn_lease_until", Int),
        ],
        key: &["id"],
    },
    TableSpec {
        name: "thread_items",
        columns: &[
            ("id", Text),
            ("thread_id", Text),
            ("user_id", Text),
            ("organization_id", Text),
            ("kind", Text),
            ("payload", Json),
            ("visible", Bool),
            ("created_at", Int),
            ("input_tokens", Int),
            ("output_tokens", Int),
            ("section", Int),
        ],
        key: &["id"],
    },
    TableSpec {
        name: "study_states",
        columns: &[
            ("thread_id", Text),
            ("user_id", Text),
            ("organization_id", Text),
            ("state", Json),
            ("updated_at", Int),
            ("lesson_path", Text),
        ],
        key: &["thread_id"],
    },
    TableSpec {
        name: "item_feedback",
        columns: &[
            ("item_id", Text),
            ("thread_id", Text),
            ("user_id", Text),
            ("organization_id", Text),
            ("kind", Text),
            ("created_at", Int),
        ],
        key: &["item_id", "user_id"],
    },
    TableSpec {
        name: "api_keys",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("scopes", Text),
            ("tier", Text),
            ("secret_hash", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
        ],
        key: &["id"],
    },
    TableSpec {
        name: "users",
        columns: &[
            ("id", Text),
            ("email", Text),
            ("email_verified", Bool),
            ("name", Text),
            ("tier", Text),
            ("role", Text),
            ("created_at", Int),
            ("disabled_at", Int),
        ],
        key: &["id"],
    },
    TableSpec {
        name: "user_identities",
        columns: &[
            ("provider", Text),
            ("subject", Text),
            ("user_id", Text),
            ("email", Text),
            ("created_at", Int),
        ],
        key: &["provider", "subject"],
    },
    TableSpec {
        name: "refresh_tokens",
        columns: &[
            ("hash", Text),
            ("family_id", Text),
            ("user_id", Text),
            ("issued_at", Int),
            ("expires_at", Int),
            ("replaced_by", Text),
            ("revoked_at", Int),
        ],
        key: &["hash"],
    },
    TableSpec {
        name: "book_lessons",
        columns: &[
            ("path", Text),
            ("version", Text),
            ("etag", Text),
            ("content_hash", Text),
            ("title", Text),
            // JSON in a TEXT column on both engines: copied byte for byte.
            ("analysis", Text),
            ("synced_at", Int),
        ],
        key: &["path"],
    },
    TableSpec {
        name: "book_sections",
        columns: &[
            ("path", Text),
            ("idx", Int),
            ("title", Text),
            ("body", Text),
            ("vector", Blob),
        ],
        key: &["path", "idx"],
    },
    TableSpec {
        name: "sync_runs",
        columns: &[
            ("id", Text),
            ("scope", Text),
            ("requested_by", Text),
            ("created_at", Int),
            ("listed_at", Int),
            ("error", Text),
            ("task_id", Text),
        ],
        key: &["id"],
    },
    TableSpec {
        name: "sync_run_lessons",
        columns: &[
            ("run_id", Text),
            ("path", Text),
            ("outcome", Text),
            ("attempts", Int),
            ("error", Text),
            ("task_id", Text),
            ("updated_at", Int),
        ],
        key: &["run_id", "path"],
    },
];

/// Tables of the service's schema that are not copied, and why.
pub(super) const NOT_COPIED: &[(&str, &str)] = &[
    (
        "seaql_migrations",
        "the target records its own migrations when `db copy` migrates it",
    ),
    (
        "db_probe",
        "scratch row of the readiness probe, rewritten by every probe",
    ),
    (
        "book_sections_fts",
        "derived search index: rebuilt from book_sections on a SQLite target, computed by \
         Postgres itself (the generated tsv column) on a Postgres target",
    ),
    (
        "Jobs",
        "book sync queue tasks (apalis): transient delivery state of the old deployment; the \
         outcome of every run is in sync_runs / sync_run_lessons, which are copied",
    ),
    ("Workers", "apalis worker heartbeats of the old deployment"),
    (
        "_sqlx_migrations",
        "apalis' own migration record: the target's queue sets itself up at start",
    ),
];

/// Whether a table found in a database is known not to be copied. FTS5 keeps its index in
/// shadow tables named after the virtual table.
pub(super) fn skipped(table: &str) -> bool {
    table.starts_with("book_sections_fts")
        || table.starts_with("sqlite_")
        || NOT_COPIED
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_a_column_and_no_table_is_listed_twice() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for table in TABLES {
            assert!(!table.key.is_empty(), "{}", table.name);
            for key in table.key {
                assert!(table.position(key).is_some(), "{}.{key}", table.name);
            }
            assert!(
                !skipped(table.name),
                "{} is both copied and skipped",
                table.name
            );
        }
    }

    #[test]
    fn the_largest_batch_stays_under_the_engines_parameter_limits() {
        let widest = TABLES.iter().map(|t| t.columns.len()).max().unwrap_or(0);
        // SQLite's default limit is 32,766 bound parameters, Postgres' 65,535.
        assert!(widest * super::super::MAX_BATCH as usize <= 32_766);
    }
}
