//! A turn between its checks and its start: the seam where the caller charges the chat quota,
//! once the request is known to be valid and before anything of it is stored.

use std::sync::Arc;

use tracing::Instrument;

use super::{NewTurn, TurnEvent, TurnJob, user_message};
use crate::app::study::{MessageInput, StudyError, StudyService, TurnContext, TurnStream};
use crate::domain::lesson::ParsedLesson;
use crate::domain::principal::Principal;
use crate::domain::thread::Thread;
use crate::domain::token_budget::BudgetStatus;

/// A turn that passed every check that can fail with a status (input, thread, lock, lesson,
/// caps) and of which nothing is stored yet. [`PendingTurn::begin`] stores and starts it;
/// dropping it instead (the chat quota refused it, say) releases the thread's lock and leaves
/// no trace. This split lets the caller charge the chat quota only for turns that will run.
pub struct PendingTurn {
    pub(super) service: Arc<StudyService>,
    pub(super) who: Principal,
    pub(super) start: Start,
    /// The student's daily token budget at the check (`None`: unlimited, or no budgets).
    pub(super) budget: Option<BudgetStatus>,
    /// The turn's `tutoring.turn` span: the turn's writes and its spawned task run in it.
    pub(super) span: tracing::Span,
}

/// What [`PendingTurn::begin`] writes before the turn runs.
pub(super) enum Start {
    /// `threads.create`: the thread is inserted with its first message (within the cap).
    Create {
        thread: Thread,
        /// Threads the user had at the pre-check.
        seen: u64,
        lesson: Arc<ParsedLesson>,
        ctx: TurnContext,
        input: MessageInput,
        text: String,
    },
    /// `threads.add_user_message`: the message, on a locked thread.
    Message {
        turn: NewTurn,
        input: MessageInput,
        text: String,
    },
    /// `threads.retry_after_item`: what follows the retried message is deleted.
    Retry { job: TurnJob, item_id: String },
}

impl PendingTurn {
    /// The student's daily token budget as it stood when the turn was checked, before this
    /// turn's charge (`None`: the tier is unlimited, or no budgets are configured).
    pub fn budget(&self) -> Option<BudgetStatus> {
        self.budget
    }

    /// Stores what the turn starts from and starts it: the returned events are the turn's.
    ///
    /// # Errors
    /// Store failures, and [`StudyError::ThreadLimitReached`] when a concurrent create took the
    /// last free slot — all before any event.
    pub async fn begin(self) -> Result<TurnStream, StudyError> {
        let span = self.span.clone();
        self.start().instrument(span).await
    }

    async fn start(self) -> Result<TurnStream, StudyError> {
        let PendingTurn {
            service,
            who,
            start,
            ..
        } = self;
        match start {
            Start::Create {
                thread,
                seen,
                lesson,
                ctx,
                input,
                text,
            } => {
                // The thread and its first message in one transaction: a create whose message
                // cannot be stored leaves no empty thread in the student's list.
                let (user_item, auto_start) = user_message(&thread, input, &text);
                service
                    .insert_thread(&thread, Some(&user_item), seen)
                    .instrument(tracing::info_span!("store.insert_thread"))
                    .await?;
                let guard = match service.lock(&thread.id).await {
                    Ok(guard) => guard,
                    Err(e) => {
                        service.withdraw_thread(&thread).await;
                        return Err(e);
                    }
                };
                let turn = NewTurn {
                    thread,
                    created: true,
                    lesson,
                    ctx,
                    guard,
                };
                Ok(service.start_turn(&who, turn, user_item, auto_start))
            }
            Start::Message { turn, input, text } => {
                service.message_turn(&who, turn, input, &text).await
            }
            Start::Retry { job, item_id } => {
                service
                    .store
                    .delete_items_after(&who.user_id, &job.thread.id, &item_id)
                    .instrument(tracing::info_span!("store.delete_items_after"))
                    .await
                    .map_err(|e| StudyError::from_store(e, StudyError::ItemNotFound))?;
                Ok(service.spawn(vec![TurnEvent::StreamOptions], job))
            }
        }
    }
}
