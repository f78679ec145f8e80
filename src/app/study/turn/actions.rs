//! The ChatKit operations that continue a thread other than a new message: answering a user
//! message again (`threads.retry_after_item`), and the client-tool and custom-action requests
//! the tutor has no use for.

use std::sync::Arc;

use futures::StreamExt;

use super::pending::Start;
use super::{PendingTurn, TurnEvent, TurnJob};
use crate::app::study::input::{id, lesson_of};
use crate::app::study::{StudyError, StudyService, TurnContext, TurnStream};
use crate::domain::principal::Principal;
use crate::domain::thread::ItemKind;

impl StudyService {
    /// `threads.retry_after_item`: drop everything after a user message and answer it again.
    ///
    /// # Errors
    /// 404 thread or item, 400 when the item is not a user message, 409 turn in progress, 429
    /// token budget spent — before anything is deleted.
    #[tracing::instrument(name = "tutoring.turn", skip_all, fields(mode = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn retry_after(
        self: &Arc<Self>,
        who: &Principal,
        thread_id: &str,
        item_id: &str,
        ctx: TurnContext,
    ) -> Result<PendingTurn, StudyError> {
        id("thread_id", thread_id)?;
        id("item_id", item_id)?;
        let thread = self.own_thread(who, thread_id).await?;
        let user_item = self
            .store
            .get_item(&who.user_id, thread_id, item_id)
            .await
            .map_err(|e| StudyError::from_store(e, StudyError::ItemNotFound))?;
        let ItemKind::UserMessage { hidden, .. } = &user_item.kind else {
            return Err(StudyError::Invalid(
                "item_id must name a user message".into(),
            ));
        };
        let auto_start = *hidden;
        let path = lesson_of(&thread, &ctx)?;
        let budget = self.ensure_token_budget(who).await?;
        let guard = self.lock(&thread.id).await?;
        let lesson = self.load_lesson(who, &path).await?;
        let job = TurnJob {
            who: who.clone(),
            thread,
            user_item,
            lesson,
            ctx,
            auto_start,
            fresh: false,
            guard,
        };
        let item_id = item_id.to_string();
        Ok(self.pending(who, budget, Start::Retry { job, item_id }))
    }

    /// `threads.add_client_tool_output`: accepted; no client tools exist, so the turn ends.
    ///
    /// # Errors
    /// 404 thread.
    pub async fn client_tool_output(
        &self,
        who: &Principal,
        thread_id: &str,
    ) -> Result<TurnStream, StudyError> {
        self.existing_thread(who, thread_id).await?;
        Ok(futures::stream::iter(vec![TurnEvent::StreamOptions]).boxed())
    }

    /// `threads.custom_action`: the tutor has no widgets, so every action is unsupported.
    ///
    /// # Errors
    /// 404 thread.
    pub async fn custom_action(
        &self,
        who: &Principal,
        thread_id: &str,
    ) -> Result<TurnStream, StudyError> {
        self.existing_thread(who, thread_id).await?;
        let events = vec![
            TurnEvent::StreamOptions,
            TurnEvent::Error {
                message: Some("Custom actions are not supported by the tutor.".into()),
                allow_retry: false,
            },
        ];
        Ok(futures::stream::iter(events).boxed())
    }

    /// 400 for a malformed thread id, 404 for a thread that is not the caller's.
    async fn existing_thread(&self, who: &Principal, thread_id: &str) -> Result<(), StudyError> {
        id("thread_id", thread_id)?;
        self.own_thread(who, thread_id).await.map(drop)
    }
}
