//! Execution of one tutoring turn: prompt, model stream with the answer marker stripped, and the
//! single-transaction commit of the answer with the new study state.

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use self::span::mode_name;

use super::commit::{Committed, MIN_COMMIT_WINDOW, STOPPED_COMMIT_WINDOW, retry_unavailable};
use super::{TurnEvent, TurnJob};
use crate::app::study::{
    StudyError, StudyService, TurnOutcome, mode_of, new_item_id, now, thread_err,
};
use crate::domain::grounding::{self, CitationFilter};
use crate::domain::marker::MarkerFilter;
use crate::domain::ports::{TurnCommit, TutorError};
use crate::domain::teach::{StudyState, TeachAction};
use crate::domain::thread::{ItemKind, ThreadItem, Usage};
use crate::domain::title::{lesson_thread_title, title_from_message};
use crate::domain::tutor::{StudyMode, TutorChunk};

mod prompt;
mod span;

use self::prompt::teach_plan;

/// Why a turn stopped when the shutdown grace ended (logged, never shown).
const SHUTTING_DOWN: &str = "the service is shutting down";

impl StudyService {
    /// Runs the turn and says how it ended (for the metrics; the student learns it from the
    /// stream).
    pub(super) async fn run(
        &self,
        job: &TurnJob,
        tx: &mpsc::UnboundedSender<TurnEvent>,
    ) -> Result<TurnOutcome, StudyError> {
        // A client that went away drops the receiver; sends then fail and are ignored on purpose.
        let send = |event: TurnEvent| {
            let _ = tx.unbounded_send(event);
        };
        let deadline = Instant::now() + self.settings.turn_timeout;
        // The student's message is stored; a store that blinks now delays the turn, not fails it.
        let reads_until = deadline.min(Instant::now() + MIN_COMMIT_WINDOW);
        let user = &job.who.user_id;
        let mode = mode_of(&job.user_item.kind);
        let turn_span = tracing::Span::current();
        turn_span.record("mode", mode_name(mode));
        let state = match mode {
            StudyMode::Teach if job.fresh => StudyState::default(),
            StudyMode::Teach => {
                let stored = retry_unavailable(reads_until, || {
                    self.store.load_study_state(user, &job.thread.id)
                })
                .instrument(tracing::info_span!("store.load_study_state"))
                .await
                .0
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
        let history = if job.fresh {
            Vec::new()
        } else {
            retry_unavailable(reads_until, || {
                self.history(user, &job.thread.id, &job.user_item.id)
            })
            .instrument(tracing::info_span!("store.history"))
            .await
            .0
            .map_err(thread_err)?
        };
        let sources = match mode {
            StudyMode::Ask => self.ground(job).await,
            StudyMode::Teach => Vec::new(),
        };
        // A teach turn's plan, decided once, before the model is called.
        let plan = (mode == StudyMode::Teach).then(|| teach_plan(job, &state));
        let next_lesson = match &plan {
            Some(plan) if plan.action == TeachAction::Complete => {
                self.next_lesson(&job.lesson.path).await
            }
            _ => None,
        };
        let prompt = self.prompt(job, &state, plan.as_ref(), &history, &sources, next_lesson);
        let prompt_chars: usize = prompt
            .messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum();

        let item_id = new_item_id();
        let created_at = now();
        send(TurnEvent::AssistantStarted {
            item_id: item_id.clone(),
            thread_id: job.thread.id.clone(),
            created_at,
        });
        let mut filter = MarkerFilter::new();
        let mut cite = CitationFilter::new(u32::try_from(sources.len()).unwrap_or(0));
        let mut text = String::new();
        let mut usage = None;
        let mut failure: Option<(TurnOutcome, String)> = None;
        let stop = self.turns.stop_signal();
        // The model call, from the request to the stream's end (OpenTelemetry GenAI names).
        let model_span = span::model_call();
        let model_start = Instant::now();
        // Whether the first text arrived.
        let mut first_token = false;
        // A chunk read while gathering ready deltas that was not a delta.
        let mut held = None;
        let call = self.tutor.stream(prompt).instrument(model_span.clone());
        let started = tokio::select! {
            biased;
            () = stop.cancelled() => Err((TurnOutcome::Interrupted, SHUTTING_DOWN.to_string())),
            started = tokio::time::timeout_at(deadline, call) => match started {
                Err(_) => Err((TurnOutcome::Timeout, "turn deadline passed".to_string())),
                Ok(started) => started.map_err(|e| (model_failure(&e, false), e.to_string())),
            },
        };
        // A model that never started streaming (refused, unreachable) used nothing.
        let model_ran = started.is_ok();
        match started {
            Err(reason) => failure = Some(reason),
            Ok(mut stream) => loop {
                // A chunk read ahead while gathering deltas comes first.
                let next = match held.take() {
                    Some(chunk) => Ok(chunk),
                    None => tokio::select! {
                        biased;
                        () = stop.cancelled() => {
                            failure = Some((TurnOutcome::Interrupted, SHUTTING_DOWN.into()));
                            break;
                        }
                        next = tokio::time::timeout_at(deadline, stream.next()) => next,
                    },
                };
                match next {
                    Err(_) => failure = Some((TurnOutcome::Timeout, "turn deadline passed".into())),
                    Ok(None) => {
                        let outcome = if first_token {
                            TurnOutcome::Interrupted
                        } else {
                            TurnOutcome::ModelError
                        };
                        failure = Some((outcome, "model stream ended without completing".into()));
                    }
                    Ok(Some(Err(e))) => {
                        failure = Some((model_failure(&e, first_token), e.to_string()))
                    }
                    Ok(Some(Ok(TutorChunk::Delta(delta)))) => {
                        if !first_token {
                            first_token = true;
                            let waited = model_start.elapsed();
                            self.metrics.first_token(mode, waited);
                            model_span.record(
                                "gen_ai.response.time_to_first_token",
                                waited.as_secs_f64(),
                            );
                        }
                        let mut out = cite.push(&filter.push(&delta));
                        // Deltas the model has already sent go out as one event (the protocol's
                        // deltas append; how the text is cut is no part of it): one event, one
                        // frame, instead of one per token when the model outpaces the stream.
                        while let Some(ahead) = stream.next().now_or_never() {
                            match ahead {
                                Some(Ok(TutorChunk::Delta(delta))) => {
                                    out.push_str(&cite.push(&filter.push(&delta)));
                                }
                                other => {
                                    held = Some(other);
                                    break;
                                }
                            }
                        }
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
                        model_span.record("gen_ai.usage.input_tokens", input_tokens);
                        model_span.record("gen_ai.usage.output_tokens", output_tokens);
                    }
                }
                break;
            },
        }
        if let Some((outcome, _)) = &failure {
            let outcome = outcome.as_str();
            model_span.record("otel.status_code", "error");
            model_span.record("error.type", outcome);
            turn_span.record("outcome", outcome);
        }
        // The model call's span ends here (its exported duration is the model's).
        drop(model_span);
        self.metrics.model_call(
            mode,
            model_start.elapsed(),
            failure.as_ref().map(|(outcome, _)| outcome.as_str()),
        );
        if let Some(usage) = usage {
            self.metrics.tokens(
                mode,
                u64::from(usage.input_tokens),
                u64::from(usage.output_tokens),
            );
        }
        // The answer's write gets the rest of the turn, at least MIN_COMMIT_WINDOW; a turn
        // stopped at shutdown gets what the shutdown's finalize window allows.
        let store_until = if stop.is_cancelled() {
            Instant::now() + STOPPED_COMMIT_WINDOW
        } else {
            deadline.max(Instant::now() + MIN_COMMIT_WINDOW)
        };
        let mut tail = cite.push(&filter.finish());
        tail.push_str(&cite.finish());
        if !tail.is_empty() {
            text.push_str(&tail);
            send(TurnEvent::AssistantDelta {
                item_id: item_id.clone(),
                delta: tail,
            });
        }
        let text = text.trim_end().to_string();
        let citations = grounding::citations(&sources, cite.cited(), text.chars().count());
        // Whatever the outcome once the model ran. Before the answer's write, so the student's
        // next turn on this thread (which can only start once this one ends) sees the charge.
        if model_ran {
            self.charge_tokens(&job.who, usage, prompt_chars, text.chars().count())
                .await;
        }
        let interrupted = failure.is_some();
        let item = ThreadItem {
            id: item_id,
            thread_id: job.thread.id.clone(),
            created_at,
            kind: ItemKind::AssistantMessage {
                text: text.clone(),
                interrupted,
                citations,
            },
        };

        if let Some((outcome, reason)) = failure {
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
                if self.commit(user, &commit, store_until, &send).await == Committed::Refused {
                    return Ok(TurnOutcome::NotSaved);
                }
                send(TurnEvent::AssistantDone(item));
            }
            send(TurnEvent::Error {
                message: None,
                allow_retry: true,
            });
            return Ok(outcome);
        }

        let state = plan.map(|plan| {
            let asks = matches!(
                plan.action,
                TeachAction::Introduce { .. }
                    | TeachAction::Teach { .. }
                    | TeachAction::Reexplain { .. }
                    | TeachAction::Reask { .. }
            );
            if asks && filter.choice().is_none() {
                // The next answer is not judged: the tutor asks again (see `teach`).
                tracing::warn!(thread_id = %job.thread.id, unreadable_marker = filter.saw_marker(), "model asked no checkable question; it will be asked again");
            }
            let mut next = state.after(&plan, filter.choice());
            next.section_count = u32::try_from(job.lesson.chunks.len()).unwrap_or(u32::MAX);
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
        if self.commit(user, &commit, store_until, &send).await == Committed::Refused {
            return Ok(TurnOutcome::NotSaved);
        }
        turn_span.record("outcome", "completed");
        tracing::info!(thread_id = %job.thread.id, ?mode, chars = text.len(), ?usage, "tutoring turn completed");
        send(TurnEvent::AssistantDone(item));
        if let Some(title) = title {
            let mut thread = job.thread.clone();
            thread.title = Some(title);
            send(TurnEvent::ThreadUpdated(thread));
        }
        // A client that went away dropped its receiver; the answer is stored all the same.
        Ok(if tx.is_closed() {
            TurnOutcome::ClientGone
        } else {
            TurnOutcome::Completed
        })
    }
}

/// The outcome of a model failure: a timeout, or an error before or after text reached the
/// student.
fn model_failure(error: &TutorError, after_text: bool) -> TurnOutcome {
    match error {
        TutorError::Timeout => TurnOutcome::Timeout,
        TutorError::Unavailable(_) if after_text => TurnOutcome::Interrupted,
        TutorError::Unavailable(_) => TurnOutcome::ModelError,
    }
}
