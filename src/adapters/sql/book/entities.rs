//! Rows of `book_lessons` and `book_sections`: the adapter's own wire types, never seen outside
//! it. The full-text index (Postgres `tsv`, SQLite `book_sections_fts`) has no entity: it is
//! read and written with plain statements (see `search`).

/// A `book_lessons` row.
pub(super) mod lesson {
    use sea_orm::entity::prelude::*;

    /// One synced lesson; instants are microseconds since the Unix epoch.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "book_lessons")]
    pub struct Model {
        /// The lesson's path.
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        /// The catalog's version of the file when it was synced.
        #[sea_orm(column_type = "Text", nullable)]
        pub version: Option<String>,
        /// The source's validator for a conditional fetch.
        #[sea_orm(column_type = "Text", nullable)]
        pub etag: Option<String>,
        /// Lowercase hex SHA-256 of the markdown.
        #[sea_orm(column_type = "Text")]
        pub content_hash: String,
        /// The lesson's title.
        #[sea_orm(column_type = "Text")]
        pub title: String,
        /// The LessonAnalysis as JSON.
        #[sea_orm(column_type = "Text")]
        pub analysis: String,
        /// When it was synced.
        pub synced_at: i64,
    }

    /// Sections cascade from the schema; no relation is navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A `book_sections` row.
pub(super) mod section {
    use sea_orm::entity::prelude::*;

    /// One section of a synced lesson.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "book_sections")]
    pub struct Model {
        /// The lesson's path.
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        /// Position in the lesson, from 0.
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i32,
        /// Heading.
        #[sea_orm(column_type = "Text")]
        pub title: String,
        /// Text (markdown).
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// Embedding, f32 little-endian (see `vector`).
        #[sea_orm(column_type = "Blob", nullable)]
        pub vector: Option<Vec<u8>>,
    }

    /// No relation is navigated: the store filters by key.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
