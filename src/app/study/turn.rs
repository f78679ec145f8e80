//! Tutoring turns: everything that can fail with a status is checked before the stream starts;
//! then a task of its own talks to the model, strips the answer marker, and stores the answer
//! with the new study state in one transaction — even when the client has gone away.
//! This file starts turns; the turn itself runs in [`run`].

mod actions;
mod commit;
mod ground;
mod pending;
mod run;

pub use commit::ANSWER_NOT_SAVED;
pub use pending::PendingTurn;
use pending::Start;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::channel::mpsc;
use tracing::Instrument;

use super::input::{id, lesson_of, lesson_required, validate};
use super::{
    MessageInput, StudyError, StudyService, TurnContext, TurnStream, new_item_id, now, thread_err,
};
use crate::domain::lesson::{LessonPath, ParsedLesson};
use crate::domain::ports::{LockError, TurnGuard};
use crate::domain::principal::Principal;
use crate::domain::thread::{ItemKind, Thread, ThreadItem};
use crate::domain::title::is_auto_start;
use crate::domain::token_budget::BudgetStatus;
use crate::domain::tutor::StudyMode;

/// What the client's stream carries, in order; `http/` turns each into protocol events.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// A new thread (threads.create only).
    ThreadCreated(Thread),
    /// A stored item (the student's message).
    ItemDone(ThreadItem),
    /// Stream capabilities; starts every turn.
    StreamOptions,
    /// The tutor starts answering.
    AssistantStarted {
        /// Item id of the answer.
        item_id: String,
        /// Thread.
        thread_id: String,
        /// Creation time of the answer.
        created_at: DateTime<Utc>,
    },
    /// Text of the answer, marker already removed.
    AssistantDelta {
        /// Item id.
        item_id: String,
        /// Text.
        delta: String,
    },
    /// The stored answer.
    AssistantDone(ThreadItem),
    /// The thread changed (title).
    ThreadUpdated(Thread),
    /// The turn failed; `message` is shown verbatim when present.
    Error {
        /// Message for the student.
        message: Option<String>,
        /// Whether a retry makes sense.
        allow_retry: bool,
    },
}

/// How long a finished turn waits for its lock's release before ending its stream anyway.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A turn about to start on a loaded thread and lesson, with its lock held.
struct NewTurn {
    thread: Thread,
    created: bool,
    lesson: Arc<ParsedLesson>,
    ctx: TurnContext,
    guard: Box<dyn TurnGuard>,
}

/// Everything a turn task needs, gathered before the stream starts.
struct TurnJob {
    who: Principal,
    thread: Thread,
    user_item: ThreadItem,
    lesson: Arc<ParsedLesson>,
    ctx: TurnContext,
    auto_start: bool,
    /// The thread was created by this request: it has no state and no history yet, so the
    /// turn skips reading them.
    fresh: bool,
    guard: Box<dyn TurnGuard>,
}

impl StudyService {
    /// `threads.create`: a new thread whose first message starts a turn.
    ///
    /// # Errors
    /// Invalid input, lesson problems, the thread cap, a spent token budget, store failures —
    /// all before anything is stored.
    #[tracing::instrument(name = "tutoring.turn", skip_all, fields(mode = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_thread(
        self: &Arc<Self>,
        who: &Principal,
        input: MessageInput,
        ctx: TurnContext,
    ) -> Result<PendingTurn, StudyError> {
        let text = validate(&input)?;
        let path = ctx.lesson_path.clone().ok_or_else(lesson_required)?;
        let budget = self.ensure_token_budget(who).await?;
        let lesson = self.load_lesson(who, &path).await?;
        let seen = self.ensure_thread_room(&who.user_id).await?;
        let mode = StudyMode::from_model(input.inference_options.model.as_deref());
        let thread = super::new_thread(who, &path, mode);
        Ok(self.pending(
            who,
            budget,
            Start::Create {
                thread,
                seen,
                lesson,
                ctx,
                input,
                text,
            },
        ))
    }

    /// `threads.add_user_message`.
    ///
    /// # Errors
    /// 404 thread, 409 turn in progress or thread full, 429 token budget spent, invalid input,
    /// lesson problems — before anything is stored.
    #[tracing::instrument(name = "tutoring.turn", skip_all, fields(mode = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn add_message(
        self: &Arc<Self>,
        who: &Principal,
        thread_id: &str,
        input: MessageInput,
        ctx: TurnContext,
    ) -> Result<PendingTurn, StudyError> {
        id("thread_id", thread_id)?;
        let text = validate(&input)?;
        let thread = self
            .own_thread(who, thread_id)
            .instrument(tracing::info_span!("store.get_thread"))
            .await?;
        let path = lesson_of(&thread, &ctx)?;
        let budget = self.ensure_token_budget(who).await?;
        let guard = self.lock(&thread.id).await?;
        self.ensure_item_room(&who.user_id, &thread.id).await?;
        let lesson = self.load_lesson(who, &path).await?;
        let turn = NewTurn {
            thread,
            created: false,
            lesson,
            ctx,
            guard,
        };
        Ok(self.pending(who, budget, Start::Message { turn, input, text }))
    }

    fn pending(
        self: &Arc<Self>,
        who: &Principal,
        budget: Option<BudgetStatus>,
        start: Start,
    ) -> PendingTurn {
        PendingTurn {
            service: Arc::clone(self),
            who: who.clone(),
            start,
            budget,
            // The `tutoring.turn` span of the operation that checked the turn.
            span: tracing::Span::current(),
        }
    }

    /// Stores the student's message and starts the turn that answers it.
    async fn message_turn(
        self: &Arc<Self>,
        who: &Principal,
        turn: NewTurn,
        input: MessageInput,
        text: &str,
    ) -> Result<TurnStream, StudyError> {
        let (user_item, auto_start) = user_message(&turn.thread, input, text);
        // Stored before the model is called: a crash later loses no student words.
        self.store
            .add_item(&who.user_id, &user_item)
            .instrument(tracing::info_span!("store.add_item"))
            .await
            .map_err(thread_err)?;
        Ok(self.start_turn(who, turn, user_item, auto_start))
    }

    /// Starts the turn that answers `user_item`, stored already.
    fn start_turn(
        self: &Arc<Self>,
        who: &Principal,
        turn: NewTurn,
        user_item: ThreadItem,
        auto_start: bool,
    ) -> TurnStream {
        let NewTurn {
            thread,
            created,
            lesson,
            ctx,
            guard,
        } = turn;
        let mut prefix = Vec::new();
        if created {
            prefix.push(TurnEvent::ThreadCreated(thread.clone()));
        }
        if user_item.kind.is_visible() {
            prefix.push(TurnEvent::ItemDone(user_item.clone()));
        }
        prefix.push(TurnEvent::StreamOptions);
        let job = TurnJob {
            who: who.clone(),
            thread,
            user_item,
            lesson,
            ctx,
            auto_start,
            fresh: created,
            guard,
        };
        self.spawn(prefix, job)
    }

    /// Takes the thread's turn lock. A lock whose holder died frees itself within the lock's
    /// own (short, renewed) lease; `ttl` only bounds a guard that is never dropped, so it is
    /// generous: the turn's deadline, its final write's retries and a shutdown grace fit in it.
    async fn lock(&self, thread_id: &str) -> Result<Box<dyn TurnGuard>, StudyError> {
        let ttl = self.settings.turn_timeout * 2 + std::time::Duration::from_secs(60);
        match self.locks.try_acquire(thread_id, ttl).await {
            Ok(Some(guard)) => Ok(guard),
            Ok(None) => {
                self.metrics.lock_conflict();
                Err(StudyError::TurnInProgress)
            }
            Err(LockError::Unavailable(_)) => Err(StudyError::StoreUnavailable),
            Err(e @ LockError::Unexpected(_)) => Err(StudyError::Unexpected(anyhow::Error::new(e))),
        }
    }

    #[tracing::instrument(name = "lesson.load", skip_all)]
    pub(super) async fn load_lesson(
        &self,
        who: &Principal,
        path: &LessonPath,
    ) -> Result<Arc<ParsedLesson>, StudyError> {
        self.lessons
            .load(path, &who.user_id)
            .await
            .map(|view| view.lesson)
            .map_err(super::lesson_err)
    }

    fn spawn(self: &Arc<Self>, prefix: Vec<TurnEvent>, job: TurnJob) -> TurnStream {
        // futures' channel allocates one node per queued event; tokio's preallocates a block of
        // 32 slots (~6 KB for this enum) per channel, which every open stream would carry.
        let (tx, rx) = mpsc::unbounded();
        let service = Arc::clone(self);
        let mode = super::mode_of(&job.user_item.kind);
        self.metrics.turn_started(mode);
        let began = std::time::Instant::now();
        let open = self.metrics.stream_opened();
        // Tracked, so shutdown waits for it even after its client has gone; it carries the
        // caller's `tutoring.turn` span across the spawn.
        let turn_span = tracing::Span::current();
        let task = async move {
            let thread_id = job.thread.id.clone();
            let outcome = match service.run(&job, &tx).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::Span::current().record("outcome", "error");
                    tracing::error!(thread_id, error = ?e, "tutoring turn failed");
                    let _ = tx.unbounded_send(TurnEvent::Error {
                        message: None,
                        allow_retry: true,
                    });
                    super::TurnOutcome::Failed
                }
            };
            service.metrics.turn_ended(mode, outcome, began.elapsed());
            // The thread is released before the stream ends, so the student's next message
            // (on any replica) finds it free. A release the store delays goes on by itself.
            let _ = tokio::time::timeout(RELEASE_WAIT, job.guard.release()).await;
            drop(tx);
        };
        self.turns.spawn(task.instrument(turn_span));
        // The stream counts as open until the client's side drops it.
        futures::stream::iter(prefix)
            .chain(rx)
            .map(move |event| {
                let _open = &open;
                event
            })
            .boxed()
    }
}

/// The student's message as a new item of `thread`, and whether it is the hidden auto-start.
fn user_message(thread: &Thread, input: MessageInput, text: &str) -> (ThreadItem, bool) {
    let auto_start = is_auto_start(text);
    let item = ThreadItem {
        id: new_item_id(),
        thread_id: thread.id.clone(),
        created_at: now(),
        kind: ItemKind::UserMessage {
            content: input.content,
            quoted_text: input.quoted_text,
            inference_options: input.inference_options,
            hidden: auto_start,
        },
    };
    (item, auto_start)
}
