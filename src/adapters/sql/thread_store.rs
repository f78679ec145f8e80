//! ThreadStore on SeaORM (Postgres and SQLite).
