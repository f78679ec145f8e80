//! The learning side of the thread store: what a turn's commit records for progress and
//! analytics (the state's lesson, the section of the tutor's message), and the
//! [`LearningStore`] reads over it.

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};

use super::entities::study_state;
use super::{SqlThreadStore, convert, ops};
use crate::adapters::sql::{Engine, classify};
use crate::domain::learning::{SectionFeedback, StudyRecord};
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{LearningStore, SectionTitle, StoreError, TurnCommit};
use crate::domain::thread::{ItemKind, ThreadItem};

/// Most rating groups (lesson × section × kind) one analytics read returns.
const MAX_FEEDBACK_GROUPS: i64 = 50_000;

/// The section a turn's tutor messages are about, recorded on their rows: the chunk the new
/// study state is on (`None` for a turn without a new state, whose rows keep theirs).
pub(super) fn turn_section(turn: &TurnCommit) -> Option<u32> {
    turn.state.as_ref().map(|state| state.chunk_index)
}

/// Whether `item` is a tutor message (the rows a turn's section is recorded on).
pub(super) fn is_answer(item: &ThreadItem) -> bool {
    matches!(item.kind, ItemKind::AssistantMessage { .. })
}

/// The lesson of a thread, from its metadata, recorded on its study state; only a well-formed
/// lesson path is recorded (metadata is written by this service anyway).
pub(super) fn lesson_of(metadata: &serde_json::Value) -> Option<LessonPath> {
    metadata
        .get("lesson_path")
        .and_then(serde_json::Value::as_str)
        .and_then(|p| LessonPath::parse(p).ok())
}

fn record(row: study_state::Model) -> Option<StudyRecord> {
    let path = row.lesson_path.as_deref().map(LessonPath::parse)?.ok()?;
    let state = match convert::state_from_json(row.state) {
        Ok(state) => state,
        Err(e) => {
            tracing::warn!(thread_id = %row.thread_id, error = %e, "study state skipped: unreadable");
            return None;
        }
    };
    let updated_at = chrono::DateTime::from_timestamp_micros(row.updated_at)?;
    Some(StudyRecord {
        user_id: row.user_id,
        thread_id: row.thread_id,
        lesson_path: path,
        state,
        updated_at,
    })
}

impl SqlThreadStore {
    async fn records(
        &self,
        user_id: Option<&str>,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<StudyRecord>, StoreError> {
        let mut query =
            study_state::Entity::find().filter(study_state::Column::LessonPath.is_not_null());
        if let Some(user_id) = user_id {
            query = query.filter(study_state::Column::UserId.eq(user_id));
        }
        if let Some(lesson) = lesson {
            query = query.filter(study_state::Column::LessonPath.eq(lesson.as_str()));
        }
        let rows = query
            .order_by_desc(study_state::Column::UpdatedAt)
            .order_by_asc(study_state::Column::ThreadId)
            .limit(u64::from(limit))
            .all(self.db.connection())
            .await
            .map_err(ops::store_err("read study states"))?;
        Ok(rows.into_iter().filter_map(record).collect())
    }

    fn statement(&self, sql: &str, lesson: Option<&LessonPath>, limit: i64) -> Statement {
        let (backend, placeholder) = match self.db.engine() {
            Engine::Postgres => (DbBackend::Postgres, ["$1", "$2"]),
            Engine::Sqlite => (DbBackend::Sqlite, ["?", "?"]),
        };
        let mut values = Vec::new();
        let filter = match lesson {
            Some(lesson) => {
                values.push(Value::from(lesson.as_str()));
                format!("= {}", placeholder[0])
            }
            None => "IS NOT NULL".to_string(),
        };
        values.push(Value::from(limit));
        let sql = sql
            .replace("{filter}", &filter)
            .replace("{limit}", placeholder[values.len() - 1]);
        Statement::from_sql_and_values(backend, sql, values)
    }
}

const FEEDBACK_SQL: &str = "SELECT s.lesson_path, i.section, f.kind, COUNT(*) \
     FROM item_feedback f \
     JOIN thread_items i ON i.id = f.item_id \
     JOIN study_states s ON s.thread_id = f.thread_id \
     WHERE i.section IS NOT NULL AND s.lesson_path {filter} \
     GROUP BY s.lesson_path, i.section, f.kind \
     ORDER BY s.lesson_path, i.section, f.kind LIMIT {limit}";

const TITLES_SQL: &str = "SELECT path, CAST(idx AS BIGINT), title FROM book_sections \
     WHERE path {filter} ORDER BY path, idx LIMIT {limit}";

fn section(raw: i64) -> Result<u32, StoreError> {
    u32::try_from(raw)
        .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("section {raw} out of range")))
}

#[async_trait]
impl LearningStore for SqlThreadStore {
    async fn user_records(
        &self,
        user_id: &str,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<StudyRecord>, StoreError> {
        self.db
            .read(
                "read a learner's study states",
                self.records(Some(user_id), lesson, limit),
            )
            .await
    }

    async fn lesson_records(
        &self,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<StudyRecord>, StoreError> {
        self.db
            .read("read study states", self.records(None, lesson, limit))
            .await
    }

    async fn section_feedback(
        &self,
        lesson: Option<&LessonPath>,
    ) -> Result<Vec<SectionFeedback>, StoreError> {
        self.db
            .read("read feedback per section", async {
                let stmt = self.statement(FEEDBACK_SQL, lesson, MAX_FEEDBACK_GROUPS);
                let rows = self
                    .db
                    .connection()
                    .query_all_raw(stmt)
                    .await
                    .map_err(|e| classify(e, "read feedback per section"))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let read = |e| classify(e, "read feedback per section");
                    let path: String = row.try_get_by_index(0).map_err(read)?;
                    let idx: i64 = row.try_get_by_index(1).map_err(read)?;
                    let kind: String = row.try_get_by_index(2).map_err(read)?;
                    let count: i64 = row.try_get_by_index(3).map_err(read)?;
                    let Ok(lesson_path) = LessonPath::parse(&path) else {
                        continue;
                    };
                    out.push(SectionFeedback {
                        lesson_path,
                        section: section(idx)?,
                        kind: convert::feedback_from_name(&kind)?,
                        count: u64::try_from(count).unwrap_or(0),
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn section_titles(
        &self,
        lesson: Option<&LessonPath>,
        limit: u32,
    ) -> Result<Vec<SectionTitle>, StoreError> {
        self.db
            .read("read section titles", async {
                let stmt = self.statement(TITLES_SQL, lesson, i64::from(limit));
                let rows = self
                    .db
                    .connection()
                    .query_all_raw(stmt)
                    .await
                    .map_err(|e| classify(e, "read section titles"))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let read = |e| classify(e, "read section titles");
                    let path: String = row.try_get_by_index(0).map_err(read)?;
                    let idx: i64 = row.try_get_by_index(1).map_err(read)?;
                    let title: String = row.try_get_by_index(2).map_err(read)?;
                    out.push(SectionTitle {
                        lesson_path: LessonPath::new_unchecked(path),
                        section: section(idx)?,
                        title,
                    });
                }
                Ok(out)
            })
            .await
    }
}
