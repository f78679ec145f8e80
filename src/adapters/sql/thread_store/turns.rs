//! The store's multi-row writes: a turn's outcome and a set of ratings.

use std::collections::BTreeSet;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::convert;
use super::entities::{feedback, item};
use super::{SqlThreadStore, learning, ops};
use crate::adapters::sql::now_micros;
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{StoreError, TurnCommit};
use crate::domain::thread::{FeedbackKind, ItemKind};

impl SqlThreadStore {
    /// Writes a turn's items, state and title in one transaction.
    pub(super) async fn write_turn(
        &self,
        user_id: &str,
        turn: &TurnCommit,
    ) -> Result<(), StoreError> {
        if let Some(stray) = turn.items.iter().find(|i| i.thread_id != turn.thread_id) {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "item {} of thread {} committed with a turn of thread {}",
                stray.id,
                stray.thread_id,
                turn.thread_id
            )));
        }
        // Usage is the turn's, so it is recorded once: on its (last) assistant message.
        let usage_at = turn
            .items
            .iter()
            .rposition(|i| matches!(i.kind, ItemKind::AssistantMessage { .. }));
        // What the learning side records (see `learning`) rides on the writes themselves:
        // the section on the answer's row, the lesson on the state's row, the lesson read by the
        // thread's own update. Four statements and the commit, whatever the turn holds.
        let section = learning::turn_section(turn);
        let txn = self.begin().await?;
        let result = async {
            let touched =
                ops::touch_thread(&txn, user_id, &turn.thread_id, turn.title.as_deref()).await?;
            for (n, it) in turn.items.iter().enumerate() {
                let usage = turn.usage.filter(|_| Some(n) == usage_at);
                let section = section.filter(|_| learning::is_answer(it));
                ops::upsert_item(&txn, user_id, touched.org.clone(), it, usage, section).await?;
            }
            if let Some(state) = &turn.state {
                let lesson = learning::lesson_of(&touched.metadata);
                let lesson = lesson.as_ref().map(LessonPath::as_str);
                ops::upsert_state(&txn, user_id, touched.org, &turn.thread_id, state, lesson)
                    .await?;
            }
            Ok(())
        }
        .await;
        ops::finish(txn, result).await
    }

    /// Records ratings of items of a thread, all in one statement.
    pub(super) async fn write_feedback(
        &self,
        user_id: &str,
        thread_id: &str,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<(), StoreError> {
        let conn = self.db.connection();
        let org = ops::thread_org(conn, user_id, thread_id).await?;
        // A repeated id would make one statement update the same row twice, which Postgres
        // refuses.
        let ids: BTreeSet<&str> = item_ids.iter().map(String::as_str).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let found = item::Entity::find()
            .filter(item::Column::Id.is_in(ids.iter().copied()))
            .filter(item::Column::ThreadId.eq(thread_id))
            .filter(item::Column::UserId.eq(user_id))
            .select_only()
            .column(item::Column::Id)
            .into_tuple::<String>()
            .all(conn)
            .await
            .map_err(ops::store_err("check rated items"))?;
        if found.len() != ids.len() {
            return Err(StoreError::NotFound);
        }
        let now = now_micros();
        let rows = ids.iter().map(|id| feedback::ActiveModel {
            item_id: Set((*id).to_owned()),
            user_id: Set(user_id.to_owned()),
            thread_id: Set(thread_id.to_owned()),
            organization_id: Set(org.clone()),
            kind: Set(convert::feedback_name(kind).to_owned()),
            created_at: Set(now),
        });
        let on_conflict = OnConflict::columns([feedback::Column::ItemId, feedback::Column::UserId])
            .update_columns([feedback::Column::Kind, feedback::Column::CreatedAt])
            .to_owned();
        // One statement, so every rating is recorded or none; an item deleted since the check
        // fails its foreign key, which reads as NotFound.
        feedback::Entity::insert_many(rows)
            .on_conflict(on_conflict)
            .exec_without_returning(conn)
            .await
            .map_err(ops::store_err("record feedback"))?;
        Ok(())
    }
}
