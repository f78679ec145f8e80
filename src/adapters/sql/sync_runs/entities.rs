//! Rows of `sync_runs` and `sync_run_lessons`: the adapter's own wire types, never seen outside
//! it. Instants are microseconds since the Unix epoch.

/// A `sync_runs` row.
pub(super) mod run {
    use sea_orm::entity::prelude::*;

    /// One sync run.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_runs")]
    pub struct Model {
        /// A UUID v7, hyphenated lowercase.
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        /// The SyncScope as JSON.
        #[sea_orm(column_type = "Text")]
        pub scope: String,
        /// Who asked.
        #[sea_orm(column_type = "Text")]
        pub requested_by: String,
        /// When it was asked for.
        pub created_at: i64,
        /// When its lessons were listed.
        pub listed_at: Option<i64>,
        /// Why listing failed for good.
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
        /// The queue's id of the listing task.
        #[sea_orm(column_type = "Text", nullable)]
        pub task_id: Option<String>,
    }

    /// Lessons cascade from the schema; no relation is navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A `sync_run_lessons` row.
pub(super) mod run_lesson {
    use sea_orm::entity::prelude::*;

    /// One lesson of a run.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_run_lessons")]
    pub struct Model {
        /// The run.
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub run_id: String,
        /// The lesson.
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        /// LessonOutcome::as_str.
        #[sea_orm(column_type = "Text")]
        pub outcome: String,
        /// Tries so far.
        pub attempts: i32,
        /// The last failure, bounded.
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
        /// The queue's id of the lesson's task.
        #[sea_orm(column_type = "Text", nullable)]
        pub task_id: Option<String>,
        /// When the outcome was last set.
        pub updated_at: i64,
    }

    /// No relation is navigated: the store filters by key.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
