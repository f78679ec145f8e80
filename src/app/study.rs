//! Study sessions: the use cases behind `POST /chatkit` and the REST mirror.
//!
//! JSON operations answer at once; tutoring turns validate and load everything that can fail
//! with a status (404, 409, 400) *before* a stream starts, then run in a task of their own that
//! stores the answer even when the client has gone away.

mod budget;
mod error;
mod ids;
mod input;
mod limits;
mod metrics;
mod next;
mod shutdown;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;

pub use crate::app::lessons::{LessonError, LessonService};
pub use error::StudyError;
pub use ids::{new_item_id, new_thread_id, now};
pub use input::{MAX_CONTENT_PARTS, MessageInput, TurnContext};
pub use metrics::{StreamGuard, TurnOutcome, TutoringMetrics, model_label};
pub use shutdown::{Drained, FINALIZE_WINDOW};
pub use turn::{ANSWER_NOT_SAVED, PendingTurn, TurnEvent};

use self::error::{lesson_err, thread_err};
use crate::domain::bounds::check_label;
use crate::domain::cursor;
use crate::domain::lesson::LessonPath;
use crate::domain::ports::{StoreError, ThreadStore, TurnLock, TutorModel};
use crate::domain::principal::Principal;
use crate::domain::thread::{FeedbackKind, ItemKind, Page, PageRequest, Thread, ThreadItem};
use crate::domain::tutor::StudyMode;

/// Longest message a student may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 8_000;
/// Longest highlighted text accepted for ask mode, in characters.
pub const MAX_SELECTED_CHARS: usize = 5_000;
/// Longest display name, in characters.
pub const MAX_USER_NAME_CHARS: usize = crate::domain::tutor::MAX_STUDENT_NAME_CHARS;
/// Longest thread title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Tunables of tutoring turns.
#[derive(Debug, Clone)]
pub struct StudySettings {
    /// Upper bound of one turn, model included; the answer is stored until then.
    pub turn_timeout: Duration,
    /// Upper bound on generated tokens per turn.
    pub max_output_tokens: u32,
    /// Characters of thread history a teach prompt may carry.
    pub history_budget_chars: usize,
    /// Characters of book passages that ground an ask-mode answer.
    pub lesson_excerpt_chars: usize,
    /// Threads one user may keep (`MAX_THREADS_PER_USER`).
    pub max_threads_per_user: u64,
    /// Items one thread may hold, hidden ones included (`MAX_ITEMS_PER_THREAD`).
    pub max_items_per_thread: u64,
}

impl Default for StudySettings {
    fn default() -> Self {
        Self {
            turn_timeout: Duration::from_secs(120),
            max_output_tokens: 1_000,
            history_budget_chars: 12_000,
            lesson_excerpt_chars: 6_000,
            max_threads_per_user: 1_000,
            max_items_per_thread: 1_000,
        }
    }
}

/// A started turn: events to stream to the client.
pub type TurnStream = BoxStream<'static, TurnEvent>;

/// The study-session use cases.
pub struct StudyService {
    store: Arc<dyn ThreadStore>,
    lessons: Arc<LessonService>,
    tutor: Arc<dyn TutorModel>,
    locks: Arc<dyn TurnLock>,
    settings: StudySettings,
    headroom: limits::Headroom,
    turns: shutdown::TurnTasks,
    search: Option<Arc<crate::app::search::SearchService>>,
    /// The synced book, to suggest the next lesson when one is finished (see `next`).
    book: Option<Arc<dyn crate::domain::ports::BookStore>>,
    budget: Option<Arc<crate::app::budget::BudgetService>>,
    metrics: TutoringMetrics,
}

impl StudyService {
    /// Builds the service over its ports.
    pub fn new(
        store: Arc<dyn ThreadStore>,
        lessons: Arc<LessonService>,
        tutor: Arc<dyn TutorModel>,
        locks: Arc<dyn TurnLock>,
        settings: StudySettings,
    ) -> Self {
        Self {
            store,
            lessons,
            tutor,
            locks,
            settings,
            headroom: limits::Headroom::default(),
            turns: shutdown::TurnTasks::default(),
            search: None,
            book: None,
            budget: None,
            metrics: TutoringMetrics::new(None, "unknown", "unknown"),
        }
    }

    /// Grounds ask-mode answers in the whole book through `search` (without it, in the open
    /// lesson alone).
    #[must_use]
    pub fn with_search(mut self, search: Arc<crate::app::search::SearchService>) -> Self {
        self.search = Some(search);
        self
    }

    /// At shutdown: waits for every running turn (detached ones included) until `grace_ends`,
    /// then stops the rest, which store their answers as interrupted (see [`shutdown`]).
    pub async fn shutdown(&self, grace_ends: tokio::time::Instant) -> Drained {
        self.turns.drain(grace_ends).await
    }

    /// Tutoring turns running in this process.
    pub fn turns_running(&self) -> usize {
        self.turns.running()
    }

    /// Creates an empty thread on a lesson (REST mirror); the first message starts the first turn.
    ///
    /// # Errors
    /// Lesson not found or unavailable, [`StudyError::ThreadLimitReached`], store failures.
    pub async fn create_thread(
        &self,
        who: &Principal,
        lesson_path: &LessonPath,
        mode: StudyMode,
    ) -> Result<Thread, StudyError> {
        self.load_lesson(who, lesson_path).await?;
        let seen = self.ensure_thread_room(&who.user_id).await?;
        let thread = new_thread(who, lesson_path, mode);
        self.insert_thread(&thread, None, seen).await?;
        Ok(thread)
    }

    /// A thread with the oldest page of its visible items.
    ///
    /// # Errors
    /// [`StudyError::ThreadNotFound`] for a missing or foreign thread.
    pub async fn get_thread(
        &self,
        who: &Principal,
        thread_id: &str,
        page: &PageRequest,
    ) -> Result<(Thread, Page<ThreadItem>), StudyError> {
        input::id("thread_id", thread_id)?;
        let thread = self.own_thread(who, thread_id).await?;
        let items = self.list_items(who, thread_id, page).await?;
        Ok((thread, items))
    }

    /// The caller's thread `thread_id`; another user's reads as not found.
    async fn own_thread(&self, who: &Principal, thread_id: &str) -> Result<Thread, StudyError> {
        self.store
            .get_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)
    }

    /// A page of the caller's threads.
    ///
    /// # Errors
    /// [`StudyError::Invalid`] for an unknown cursor.
    pub async fn list_threads(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<Page<Thread>, StudyError> {
        if let Some(after) = &page.after {
            cursor::parse("after", after)?;
        }
        self.store
            .list_threads(&who.user_id, page)
            .await
            .map_err(|e| {
                StudyError::from_store(
                    e,
                    StudyError::Invalid("`after` names no thread of yours".into()),
                )
            })
    }

    /// Renames a thread; the new title stays.
    ///
    /// # Errors
    /// [`StudyError::ThreadNotFound`], or [`StudyError::Invalid`] for an empty or long title.
    pub async fn rename_thread(
        &self,
        who: &Principal,
        thread_id: &str,
        title: &str,
    ) -> Result<Thread, StudyError> {
        input::id("thread_id", thread_id)?;
        let title = title.trim();
        check_label("title", title, MAX_TITLE_CHARS)?;
        if title.is_empty() {
            return Err(StudyError::Invalid(format!(
                "title must be 1 to {MAX_TITLE_CHARS} characters without control characters"
            )));
        }
        let mut thread = self.own_thread(who, thread_id).await?;
        thread.title = Some(title.to_string());
        self.store.save_thread(&thread).await.map_err(thread_err)?;
        Ok(thread)
    }

    /// Deletes a thread with everything in it.
    ///
    /// # Errors
    /// [`StudyError::ThreadNotFound`].
    pub async fn delete_thread(&self, who: &Principal, thread_id: &str) -> Result<(), StudyError> {
        input::id("thread_id", thread_id)?;
        self.store
            .delete_thread(&who.user_id, thread_id)
            .await
            .map_err(thread_err)
    }

    /// A page of visible items (hidden ones are dropped after paging, as the protocol does).
    ///
    /// # Errors
    /// [`StudyError::ThreadNotFound`], or [`StudyError::Invalid`] for an unknown cursor.
    pub async fn list_items(
        &self,
        who: &Principal,
        thread_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ThreadItem>, StudyError> {
        input::id("thread_id", thread_id)?;
        if let Some(after) = &page.after {
            cursor::parse("after", after)?;
        }
        // Tell a missing thread (404) apart from a bad cursor (400).
        let mut items = match self.store.list_items(&who.user_id, thread_id, page).await {
            Ok(items) => items,
            Err(StoreError::NotFound) => {
                self.own_thread(who, thread_id).await?;
                return Err(StudyError::Invalid(
                    "`after` names no item of this thread".into(),
                ));
            }
            Err(e) => return Err(thread_err(e)),
        };
        items.data.retain(|i| i.kind.is_visible());
        Ok(items)
    }

    /// Stores a rating of tutor messages, for quality reports.
    ///
    /// # Errors
    /// [`StudyError::ItemNotFound`] when the thread or an item does not exist.
    pub async fn feedback(
        &self,
        who: &Principal,
        thread_id: &str,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<(), StudyError> {
        input::id("thread_id", thread_id)?;
        if item_ids.is_empty() || item_ids.len() > 100 {
            return Err(StudyError::Invalid(
                "item_ids must list 1 to 100 items".into(),
            ));
        }
        for (n, item_id) in item_ids.iter().enumerate() {
            input::id(&format!("item_ids[{n}]"), item_id)?;
        }
        self.own_thread(who, thread_id).await?;
        self.store
            .add_feedback(&who.user_id, thread_id, item_ids, kind)
            .await
            .map_err(|e| StudyError::from_store(e, StudyError::ItemNotFound))
    }
}

/// A new, empty thread of `who` on a lesson.
fn new_thread(who: &Principal, lesson_path: &LessonPath, mode: StudyMode) -> Thread {
    Thread {
        id: new_thread_id(),
        user_id: who.user_id.clone(),
        organization_id: who.organization_id.clone(),
        title: None,
        status: crate::domain::thread::ThreadStatus::Active,
        created_at: now(),
        metadata: serde_json::json!({ "lesson_path": lesson_path.as_str(), "mode": mode }),
    }
}

/// Mode of a message: `inference_options.model`, `teach` unless it says `ask`.
pub fn mode_of(kind: &ItemKind) -> StudyMode {
    match kind {
        ItemKind::UserMessage {
            inference_options, ..
        } => StudyMode::from_model(inference_options.model.as_deref()),
        _ => StudyMode::Teach,
    }
}
