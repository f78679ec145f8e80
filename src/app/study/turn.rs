//! Tutoring turns: everything that can fail with a status is checked before the stream starts;
//! then a task of its own talks to the model, strips the answer marker, and stores the answer
//! with the new study state in one transaction — even when the client has gone away.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    MAX_MESSAGE_CHARS, MAX_SELECTED_CHARS, MessageInput, StudyError, StudyService, TurnContext,
    TurnStream, mode_of, new_item_id, new_thread_id, now, thread_err,
};
use crate::domain::lesson::{LessonPath, ParsedLesson};
use crate::domain::marker::MarkerFilter;
use crate::domain::ports::{StoreError, TurnCommit, TurnGuard};
use crate::domain::principal::Principal;
use crate::domain::prompt::{ask_prompt, teach_prompt};
use crate::domain::teach::{StudentInput, StudyState, TeachAction, TurnPlan, classify_input};
use crate::domain::thread::{
    ItemKind, Order, PageRequest, Thread, ThreadItem, ThreadStatus, Usage,
};
use crate::domain::title::{is_auto_start, lesson_thread_title, title_from_message};
use crate::domain::tutor::{Prompt, StudyMode, TutorChunk, TutorContext};

/// Items of history loaded for a prompt (the prompt builders trim further).
const HISTORY_ITEMS: u32 = 60;

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

/// Everything a turn task needs, gathered before the stream starts.
struct TurnJob {
    who: Principal,
    thread: Thread,
    user_item: ThreadItem,
    lesson: ParsedLesson,
    ctx: TurnContext,
    auto_start: bool,
    _guard: Box<dyn TurnGuard>,
}

impl StudyService {
    /// `threads.create`: a new thread whose first message starts a turn.
    ///
    /// # Errors
    /// Invalid input, lesson problems, store failures — all before any event.
    pub async fn start_thread(
        self: &Arc<Self>,
        who: &Principal,
        input: MessageInput,
        ctx: TurnContext,
    ) -> Result<TurnStream, StudyError> {
        let text = validate(&input)?;
        let path = ctx.lesson_path.clone().ok_or_else(lesson_required)?;
        let lesson = self.load_lesson(&path).await?;
        let mode = StudyMode::from_model(input.inference_options.model.as_deref());
        let thread = Thread {
            id: new_thread_id(),
            user_id: who.user_id.clone(),
            organization_id: who.organization_id.clone(),
            title: None,
            status: ThreadStatus::Active,
            created_at: now(),
            metadata: serde_json::json!({ "lesson_path": path.as_str(), "mode": mode }),
        };
        self.store
            .create_thread(&thread)
            .await
            .map_err(thread_err)?;
        let guard = self.lock(&thread.id).await?;
        let (user_item, auto_start) = self.store_user_message(who, &thread, input, &text).await?;
        let mut prefix = vec![TurnEvent::ThreadCreated(thread.clone())];
        if user_item.kind.is_visible() {
            prefix.push(TurnEvent::ItemDone(user_item.clone()));
        }
        prefix.push(TurnEvent::StreamOptions);
        Ok(self.spawn(
            prefix,
            TurnJob {
                who: who.clone(),
                thread,
                user_item,
                lesson,
                ctx,
                auto_start,
                _guard: guard,
            },
        ))
    }

    /// `threads.add_user_message`.
    ///
    /// # Errors
    /// 404 thread, 409 turn in progress, invalid input, lesson problems — before any event.
    pub async fn add_message(
        self: &Arc<Self>,
        who: &Principal,
        thread_id: &str,
        input: MessageInput,
        ctx: TurnContext,
    ) -> Result<TurnStream, StudyError> {
        let text = validate(&input)?;
        let thread = self
            .store
            .get_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)?;
        let path = lesson_of(&thread, &ctx)?;
        let guard = self.lock(&thread.id).await?;
        let lesson = self.load_lesson(&path).await?;
        let (user_item, auto_start) = self.store_user_message(who, &thread, input, &text).await?;
        let mut prefix = Vec::new();
        if user_item.kind.is_visible() {
            prefix.push(TurnEvent::ItemDone(user_item.clone()));
        }
        prefix.push(TurnEvent::StreamOptions);
        Ok(self.spawn(
            prefix,
            TurnJob {
                who: who.clone(),
                thread,
                user_item,
                lesson,
                ctx,
                auto_start,
                _guard: guard,
            },
        ))
    }

    /// `threads.retry_after_item`: drop everything after a user message and answer it again.
    ///
    /// # Errors
    /// 404 thread or item, 400 when the item is not a user message, 409 turn in progress.
    pub async fn retry_after(
        self: &Arc<Self>,
        who: &Principal,
        thread_id: &str,
        item_id: &str,
        ctx: TurnContext,
    ) -> Result<TurnStream, StudyError> {
        let thread = self
            .store
            .get_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)?;
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
        let guard = self.lock(&thread.id).await?;
        let lesson = self.load_lesson(&path).await?;
        self.store
            .delete_items_after(&who.user_id, thread_id, item_id)
            .await
            .map_err(|e| StudyError::from_store(e, StudyError::ItemNotFound))?;
        let job = TurnJob {
            who: who.clone(),
            thread,
            user_item,
            lesson,
            ctx,
            auto_start,
            _guard: guard,
        };
        Ok(self.spawn(vec![TurnEvent::StreamOptions], job))
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
        self.store
            .get_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)?;
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
        self.store
            .get_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)?;
        let events = vec![
            TurnEvent::StreamOptions,
            TurnEvent::Error {
                message: Some("Custom actions are not supported by the tutor.".into()),
                allow_retry: false,
            },
        ];
        Ok(futures::stream::iter(events).boxed())
    }

    async fn lock(&self, thread_id: &str) -> Result<Box<dyn TurnGuard>, StudyError> {
        let ttl = self.settings.turn_timeout + std::time::Duration::from_secs(10);
        match self.locks.try_acquire(thread_id, ttl).await {
            Ok(Some(guard)) => Ok(guard),
            Ok(None) => Err(StudyError::TurnInProgress),
            Err(e) => Err(StudyError::Unexpected(anyhow::Error::new(e))),
        }
    }

    async fn load_lesson(&self, path: &LessonPath) -> Result<ParsedLesson, StudyError> {
        self.lessons.load(path).await.map_err(|e| match e {
            super::LessonError::NotFound => StudyError::LessonNotFound,
            super::LessonError::Unavailable => StudyError::LessonUnavailable,
        })
    }

    async fn store_user_message(
        &self,
        who: &Principal,
        thread: &Thread,
        input: MessageInput,
        text: &str,
    ) -> Result<(ThreadItem, bool), StudyError> {
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
        // Stored before the model is called: a crash later loses no student words.
        self.store
            .add_item(&who.user_id, &item)
            .await
            .map_err(thread_err)?;
        Ok((item, auto_start))
    }

    fn spawn(self: &Arc<Self>, prefix: Vec<TurnEvent>, job: TurnJob) -> TurnStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let thread_id = job.thread.id.clone();
            if let Err(e) = service.run(&job, &tx).await {
                tracing::error!(thread_id, error = ?e, "tutoring turn failed");
                let _ = tx.send(TurnEvent::Error {
                    message: None,
                    allow_retry: true,
                });
            }
        });
        let rest =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
        futures::stream::iter(prefix).chain(rest).boxed()
    }

    async fn run(
        &self,
        job: &TurnJob,
        tx: &mpsc::UnboundedSender<TurnEvent>,
    ) -> Result<(), StudyError> {
        // A client that went away drops the receiver; sends then fail and are ignored on purpose.
        let send = |event: TurnEvent| {
            let _ = tx.send(event);
        };
        let deadline = Instant::now() + self.settings.turn_timeout;
        let user = &job.who.user_id;
        let mode = mode_of(&job.user_item.kind);
        let state = match mode {
            StudyMode::Teach => {
                let stored = self
                    .store
                    .load_study_state(user, &job.thread.id)
                    .await
                    .map_err(thread_err)?
                    .unwrap_or_default();
                // Retrying the message the last turn answered: undo that turn first.
                if stored.answered_item.as_deref() == Some(job.user_item.id.as_str()) {
                    stored.previous.map(|p| *p).unwrap_or_default()
                } else {
                    stored
                }
            }
            StudyMode::Ask => StudyState::default(),
        };
        let history = self
            .history(user, &job.thread.id, &job.user_item.id)
            .await?;
        let (prompt, plan) = self.prompt(job, mode, &state, &history);

        let item_id = new_item_id();
        let created_at = now();
        send(TurnEvent::AssistantStarted {
            item_id: item_id.clone(),
            thread_id: job.thread.id.clone(),
            created_at,
        });
        let mut filter = MarkerFilter::new();
        let mut text = String::new();
        let mut usage = None;
        let mut failure = None;
        match self.tutor.stream(prompt).await {
            Err(e) => failure = Some(e.to_string()),
            Ok(mut stream) => loop {
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Err(_) => failure = Some("turn deadline passed".into()),
                    Ok(None) => failure = Some("model stream ended without completing".into()),
                    Ok(Some(Err(e))) => failure = Some(e.to_string()),
                    Ok(Some(Ok(TutorChunk::Delta(delta)))) => {
                        let out = filter.push(&delta);
                        if !out.is_empty() {
                            text.push_str(&out);
                            send(TurnEvent::AssistantDelta {
                                item_id: item_id.clone(),
                                delta: out,
                            });
                        }
                        continue;
                    }
                    Ok(Some(Ok(TutorChunk::Done {
                        input_tokens,
                        output_tokens,
                    }))) => {
                        usage = Some(Usage {
                            input_tokens,
                            output_tokens,
                        });
                    }
                }
                break;
            },
        }
        let tail = filter.finish();
        if !tail.is_empty() {
            text.push_str(&tail);
            send(TurnEvent::AssistantDelta {
                item_id: item_id.clone(),
                delta: tail,
            });
        }
        let text = text.trim_end().to_string();
        let interrupted = failure.is_some();
        let item = ThreadItem {
            id: item_id,
            thread_id: job.thread.id.clone(),
            created_at,
            kind: ItemKind::AssistantMessage {
                text: text.clone(),
                interrupted,
            },
        };

        if let Some(reason) = failure {
            tracing::warn!(thread_id = %job.thread.id, reason = %reason, kept_chars = text.len(), "model failed during the turn");
            // Keep what the student already saw, marked interrupted; the teach state stays put.
            if !text.trim().is_empty() {
                let commit = TurnCommit {
                    thread_id: job.thread.id.clone(),
                    items: vec![item.clone()],
                    state: None,
                    title: None,
                    usage,
                };
                self.commit(user, &commit, &send).await?;
                send(TurnEvent::AssistantDone(item));
            }
            send(TurnEvent::Error {
                message: None,
                allow_retry: true,
            });
            return Ok(());
        }

        let state = plan.map(|plan| {
            let asks = matches!(plan.action, TeachAction::Introduce { .. } | TeachAction::Teach { .. } | TeachAction::Reexplain { .. });
            if asks && filter.choice().is_none() {
                tracing::warn!(thread_id = %job.thread.id, "model asked no marked question; no answer will be checked");
            }
            let mut next = state.after(&plan, filter.choice());
            next.previous = Some(Box::new(StudyState { previous: None, ..state.clone() }));
            next.answered_item = Some(job.user_item.id.clone());
            next
        });
        let title = match &job.thread.title {
            Some(_) => None,
            None if job.auto_start => Some(lesson_thread_title(&job.lesson.title)),
            None => title_from_message(&job.user_item.kind.text()),
        };
        let commit = TurnCommit {
            thread_id: job.thread.id.clone(),
            items: vec![item.clone()],
            state,
            title: title.clone(),
            usage,
        };
        if !self.commit(user, &commit, &send).await? {
            return Ok(());
        }
        tracing::info!(thread_id = %job.thread.id, ?mode, chars = text.len(), ?usage, "tutoring turn completed");
        send(TurnEvent::AssistantDone(item));
        if let Some(title) = title {
            let mut thread = job.thread.clone();
            thread.title = Some(title);
            send(TurnEvent::ThreadUpdated(thread));
        }
        Ok(())
    }

    /// Commits a turn; `Ok(false)` when the thread was deleted meanwhile (the student is told).
    async fn commit(
        &self,
        user: &str,
        commit: &TurnCommit,
        send: &impl Fn(TurnEvent),
    ) -> Result<bool, StudyError> {
        match self.store.commit_turn(user, commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => {
                send(TurnEvent::Error {
                    message: Some("This conversation was deleted.".into()),
                    allow_retry: false,
                });
                Ok(false)
            }
            Err(e) => Err(thread_err(e)),
        }
    }

    async fn history(
        &self,
        user: &str,
        thread_id: &str,
        current: &str,
    ) -> Result<Vec<ThreadItem>, StudyError> {
        let page = PageRequest {
            limit: HISTORY_ITEMS,
            after: None,
            order: Order::Desc,
        };
        let mut items = self
            .store
            .list_items(user, thread_id, &page)
            .await
            .map_err(thread_err)?
            .data;
        items.retain(|i| i.id != current && i.kind.is_visible());
        items.reverse();
        Ok(items)
    }

    fn prompt(
        &self,
        job: &TurnJob,
        mode: StudyMode,
        state: &StudyState,
        history: &[ThreadItem],
    ) -> (Prompt, Option<TurnPlan>) {
        let lesson = &job.lesson;
        let student_message = job.user_item.kind.text();
        let chunk_count = u32::try_from(lesson.chunks.len()).unwrap_or(u32::MAX);
        let mut ctx = TutorContext {
            mode,
            lesson_title: lesson.title.clone(),
            chunk_titles: lesson.chunks.iter().map(|c| c.title.clone()).collect(),
            student_message: student_message
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{200B}')
                .to_string(),
            student_name: job.ctx.user_name.clone(),
            ..TutorContext::default()
        };
        let max_tokens = self.settings.max_output_tokens;
        match mode {
            StudyMode::Ask => {
                ctx.chunk_text = lesson
                    .excerpt(self.settings.lesson_excerpt_chars)
                    .to_string();
                ctx.selected_text = job.ctx.selected_text.clone();
                (ask_prompt(&ctx, history, max_tokens), None)
            }
            StudyMode::Teach => {
                let input = if job.auto_start {
                    StudentInput::Start
                } else {
                    classify_input(&student_message, state.pending.is_some())
                };
                let plan = state.plan(input, chunk_count);
                let chunk = action_chunk(plan.action).unwrap_or(state.chunk_index);
                let at = usize::try_from(chunk).unwrap_or(usize::MAX);
                ctx.chunk_index = chunk;
                ctx.chunk_text = lesson
                    .chunks
                    .get(at)
                    .map(|c| c.text.clone())
                    .unwrap_or_default();
                ctx.other_text = lesson
                    .chunks
                    .get(at + 1)
                    .or_else(|| at.checked_sub(1).and_then(|i| lesson.chunks.get(i)))
                    .map(|c| c.text.clone());
                ctx.action = Some(plan.action);
                ctx.pending_correct = state.pending.as_ref().map(|p| p.correct);
                ctx.verdict = plan.verdict;
                (
                    teach_prompt(
                        &ctx,
                        history,
                        self.settings.history_budget_chars,
                        max_tokens,
                    ),
                    Some(plan),
                )
            }
        }
    }
}

fn action_chunk(action: TeachAction) -> Option<u32> {
    match action {
        TeachAction::Introduce { chunk }
        | TeachAction::Teach { chunk }
        | TeachAction::Reexplain { chunk }
        | TeachAction::Hint { chunk }
        | TeachAction::Respond { chunk } => Some(chunk),
        TeachAction::Complete => None,
    }
}

fn lesson_required() -> StudyError {
    StudyError::Invalid(
        "lesson_path is required: open the tutor from a lesson (?lesson_path=…)".into(),
    )
}

/// The lesson of a turn: the query's, else the one the thread was started on.
fn lesson_of(thread: &Thread, ctx: &TurnContext) -> Result<LessonPath, StudyError> {
    if let Some(path) = &ctx.lesson_path {
        return Ok(path.clone());
    }
    thread
        .metadata
        .get("lesson_path")
        .and_then(|p| p.as_str())
        .and_then(|p| LessonPath::parse(p).ok())
        .ok_or_else(lesson_required)
}

/// Checks a message's size and shape; returns its plain text.
fn validate(input: &MessageInput) -> Result<String, StudyError> {
    if !input.attachments.is_empty() {
        return Err(StudyError::Unsupported("attachments".into()));
    }
    if input.content.len() > 50 {
        return Err(StudyError::Invalid(
            "a message has at most 50 content parts".into(),
        ));
    }
    let text = ItemKind::UserMessage {
        content: input.content.clone(),
        quoted_text: None,
        inference_options: Default::default(),
        hidden: false,
    }
    .text();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(StudyError::Invalid(format!(
            "a message has at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    if text.trim().is_empty() {
        return Err(StudyError::Invalid("the message is empty".into()));
    }
    if input
        .quoted_text
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SELECTED_CHARS)
    {
        return Err(StudyError::Invalid(format!(
            "quoted_text has at most {MAX_SELECTED_CHARS} characters"
        )));
    }
    Ok(text)
}
