//! The inputs of a turn's prompt: the thread's recent history, the teach plan, and the prompt
//! itself (a teach turn's for its plan, an ask turn's grounded in the book's passages).

use crate::app::study::StudyService;
use crate::app::study::turn::TurnJob;
use crate::domain::ports::StoreError;
use crate::domain::prompt::{ask_prompt, teach_prompt};
use crate::domain::teach::{
    StudentInput, StudyState, TeachAction, TurnPlan, classify_input, question_variant,
};
use crate::domain::thread::{Order, PageRequest, ThreadItem};
use crate::domain::tutor::{NextLesson, Prompt, SourcePassage, StudyMode, TutorContext};

/// Items of history loaded for a prompt (the prompt builders trim further).
const HISTORY_ITEMS: u32 = 60;

impl StudyService {
    pub(super) async fn history(
        &self,
        user: &str,
        thread_id: &str,
        current: &str,
    ) -> Result<Vec<ThreadItem>, StoreError> {
        let page = PageRequest {
            limit: HISTORY_ITEMS,
            after: None,
            order: Order::Desc,
        };
        let mut items = self.store.list_items(user, thread_id, &page).await?.data;
        items.retain(|i| i.id != current && i.kind.is_visible());
        items.reverse();
        Ok(items)
    }

    /// The prompt of the turn: a teach turn's for its `plan`, an ask turn's (no plan) grounded
    /// in `sources`.
    pub(super) fn prompt(
        &self,
        job: &TurnJob,
        state: &StudyState,
        plan: Option<&TurnPlan>,
        history: &[ThreadItem],
        sources: &[SourcePassage],
        next_lesson: Option<NextLesson>,
    ) -> Prompt {
        let lesson = &job.lesson;
        let student_message = job.user_item.kind.text();
        let mut ctx = TutorContext {
            mode: if plan.is_some() {
                StudyMode::Teach
            } else {
                StudyMode::Ask
            },
            lesson_title: lesson.title.clone(),
            chunk_titles: lesson.chunks.iter().map(|c| c.title.clone()).collect(),
            student_message: student_message
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{200B}')
                .to_string(),
            student_name: job.ctx.user_name.clone(),
            ..TutorContext::default()
        };
        let max_tokens = self.settings.max_output_tokens;
        match plan {
            None => {
                ctx.sources = sources.to_vec();
                ctx.selected_text = job.ctx.selected_text.clone();
                // The same share of the prompt as a teach turn's history and lesson part.
                let budget = self
                    .settings
                    .history_budget_chars
                    .saturating_add(self.settings.lesson_excerpt_chars);
                ask_prompt(&ctx, history, budget, max_tokens)
            }
            Some(plan) => {
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
                ctx.question_variant = question_variant(state, plan.action);
                if plan.action == TeachAction::Complete {
                    ctx.next_lesson = next_lesson;
                }
                ctx.verdict = plan.verdict;
                teach_prompt(
                    &ctx,
                    history,
                    self.settings.history_budget_chars,
                    max_tokens,
                )
            }
        }
    }
}

/// The plan of a teach turn of `job` from `state`.
pub(super) fn teach_plan(job: &TurnJob, state: &StudyState) -> TurnPlan {
    let input = if job.auto_start {
        StudentInput::Start
    } else {
        classify_input(&job.user_item.kind.text(), state.expects_answer())
    };
    let chunk_count = u32::try_from(job.lesson.chunks.len()).unwrap_or(u32::MAX);
    state.plan(input, chunk_count)
}

fn action_chunk(action: TeachAction) -> Option<u32> {
    match action {
        TeachAction::Introduce { chunk }
        | TeachAction::Teach { chunk }
        | TeachAction::Reexplain { chunk }
        | TeachAction::Reask { chunk }
        | TeachAction::Hint { chunk }
        | TeachAction::Respond { chunk } => Some(chunk),
        TeachAction::Complete => None,
    }
}
