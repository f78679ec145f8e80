//! Teach mode as a server-side state machine: one lesson chunk at a time, an A/B question per
//! chunk whose correct option stays on the server, at most three attempts, hint and skip.
//!
//! A question the model asked without a readable marker cannot be checked. The quiz must not
//! get stuck on it, and the server must not guess, so the student's next reply is not judged:
//! the tutor asks a new question about the same chunk ([`TeachAction::Reask`]), and after
//! [`MAX_UNCHECKED`] unchecked questions in a row the next answer moves on
//! ([`Verdict::Unchecked`]).

use serde::{Deserialize, Serialize};

mod input;
mod outcome;

pub use input::{classify_input, parse_answer};
pub use outcome::{MAX_OUTCOMES, Outcome, SectionOutcome, question_variant};

/// Attempts a student gets per question before the answer is revealed.
pub const MAX_ATTEMPTS: u8 = 3;

/// Unchecked questions in a row on one chunk after which the next answer moves on.
pub const MAX_UNCHECKED: u8 = 2;

/// An option of a two-choice question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Choice {
    /// Option A.
    A,
    /// Option B.
    B,
}

/// The question the student is expected to answer; `correct` never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingQuestion {
    /// Chunk the question is about.
    pub chunk_index: u32,
    /// The correct option.
    pub correct: Choice,
}

/// Per-thread teaching progress, stored with the thread and updated atomically with the
/// assistant message of each turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StudyState {
    /// Chunk being taught (0-based).
    pub chunk_index: u32,
    /// Wrong answers to the pending question so far.
    pub attempts: u8,
    /// The open question, when one was asked.
    pub pending: Option<PendingQuestion>,
    /// Whether every chunk was taught and the summary given.
    pub completed: bool,
    /// Completed turns, for prompts and reports.
    pub turns: u32,
    /// The state before the last committed turn, so retrying that turn can undo it.
    pub previous: Option<Box<StudyState>>,
    /// Id of the student message the last committed turn answered.
    pub answered_item: Option<String>,
    /// Questions in a row on the current chunk that the model asked without a readable
    /// marker, so that no answer to them can be checked.
    pub unchecked: u8,
    /// Which question of the current chunk is open: 0 for the chunk's first question, one more
    /// for every question asked again about it (see [`question_variant`]).
    pub question: u32,
    /// Hints given on the current chunk's questions.
    pub hints: u8,
    /// How each chunk finished in this thread went, in the order they were finished (at most
    /// one entry per chunk, at most [`MAX_OUTCOMES`]).
    pub outcomes: Vec<SectionOutcome>,
    /// Chunks of the lesson when the state was last written (0 when unknown).
    pub section_count: u32,
}

/// What a student's message means in teach mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StudentInput {
    /// The auto-start trigger (a message that is only U+200B) or the first message.
    Start,
    /// An answer to the pending question.
    Answer(Choice),
    /// A request for a hint.
    Hint,
    /// A request to skip the current question or chunk.
    Skip,
    /// Anything else (a question, a remark).
    Other(String),
}

/// Judgement of the student's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Right answer: move on.
    Correct,
    /// Wrong answer with attempts left: explain differently and ask again.
    Wrong {
        /// Attempts left before the answer is revealed.
        attempts_left: u8,
    },
    /// Third wrong answer: the correct option is revealed and the tutor moves on.
    Revealed {
        /// The correct option.
        correct: Choice,
    },
    /// The student skipped; the correct option is revealed and the tutor moves on.
    Skipped {
        /// The correct option, when a question was pending.
        correct: Option<Choice>,
    },
    /// The student answered a question that could not be checked, too often to ask again:
    /// the tutor moves on without judging the answer.
    Unchecked,
}

/// What the tutor does this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TeachAction {
    /// Greet the student, teach chunk `chunk` and ask its question.
    Introduce {
        /// Chunk index.
        chunk: u32,
    },
    /// Teach chunk `chunk` and ask its question (after a correct answer, a reveal or a skip).
    Teach {
        /// Chunk index.
        chunk: u32,
    },
    /// Explain chunk `chunk` differently and ask a new question about it.
    Reexplain {
        /// Chunk index.
        chunk: u32,
    },
    /// The last question about chunk `chunk` could not be checked: without judging the
    /// student's reply, ask a new question about the same chunk.
    Reask {
        /// Chunk index.
        chunk: u32,
    },
    /// Hint at the pending question of chunk `chunk` without revealing it.
    Hint {
        /// Chunk index.
        chunk: u32,
    },
    /// Answer an off-script message, then repeat the pending question of chunk `chunk`.
    Respond {
        /// Chunk index.
        chunk: u32,
    },
    /// Congratulate and summarise the lesson.
    Complete,
}

/// The plan of one teach turn, decided before the model is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnPlan {
    /// How the student's message was read.
    pub input: StudentInput,
    /// Verdict on an answer, when the message answered the pending question.
    pub verdict: Option<Verdict>,
    /// What the tutor does.
    pub action: TeachAction,
}

impl StudyState {
    /// Whether the student's next message may be an answer: a question is pending, or one was
    /// asked that cannot be checked.
    pub fn expects_answer(&self) -> bool {
        self.pending.is_some() || self.unchecked > 0
    }

    /// Decides the turn for `input` on a lesson of `chunk_count` chunks, before the model runs.
    ///
    /// A `chunk_index` beyond the lesson (the lesson shrank since the state was saved) is read as
    /// its last chunk, so a plan never names a chunk that does not exist.
    pub fn plan(&self, input: StudentInput, chunk_count: u32) -> TurnPlan {
        let plan = |verdict, action| TurnPlan {
            input: input.clone(),
            verdict,
            action,
        };
        if chunk_count == 0 || self.completed {
            return plan(None, TeachAction::Complete);
        }
        let chunk = self.chunk_index.min(chunk_count - 1);
        let move_on = if chunk + 1 < chunk_count {
            TeachAction::Teach { chunk: chunk + 1 }
        } else {
            TeachAction::Complete
        };
        if input == StudentInput::Start || self.turns == 0 {
            return plan(None, TeachAction::Introduce { chunk });
        }
        let pending = self.pending.as_ref().map(|p| p.correct);
        match (&input, pending) {
            (StudentInput::Answer(given), Some(correct)) => {
                if *given == correct {
                    return plan(Some(Verdict::Correct), move_on);
                }
                let attempts = self.attempts.saturating_add(1);
                if attempts >= MAX_ATTEMPTS {
                    plan(Some(Verdict::Revealed { correct }), move_on)
                } else {
                    let attempts_left = MAX_ATTEMPTS - attempts;
                    plan(
                        Some(Verdict::Wrong { attempts_left }),
                        TeachAction::Reexplain { chunk },
                    )
                }
            }
            (StudentInput::Hint, Some(_)) => plan(None, TeachAction::Hint { chunk }),
            (StudentInput::Skip, correct) => plan(Some(Verdict::Skipped { correct }), move_on),
            (StudentInput::Answer(_), None) if self.unchecked >= MAX_UNCHECKED => {
                plan(Some(Verdict::Unchecked), move_on)
            }
            (StudentInput::Answer(_) | StudentInput::Other(_), None) if self.unchecked > 0 => {
                plan(None, TeachAction::Reask { chunk })
            }
            _ => plan(None, TeachAction::Respond { chunk }),
        }
    }

    /// The state once the turn of `plan` completed and the model asked `asked` (the choice of
    /// the marker it wrote, `None` when it asked nothing). Not called when the model failed.
    pub fn after(&self, plan: &TurnPlan, asked: Option<Choice>) -> StudyState {
        let mut next = self.next_position(plan, asked);
        next.question = question_variant(self, plan.action);
        next.hints = match plan.action {
            TeachAction::Hint { .. } => self.hints.saturating_add(1),
            TeachAction::Introduce { .. } | TeachAction::Teach { .. } | TeachAction::Complete => 0,
            _ => self.hints,
        };
        next.outcomes = self.outcomes_after(plan);
        next.section_count = self.section_count;
        next
    }

    /// Chunk, question and attempts after the turn of `plan` (see [`StudyState::after`]).
    fn next_position(&self, plan: &TurnPlan, asked: Option<Choice>) -> StudyState {
        let question = |chunk| {
            asked.map(|correct| PendingQuestion {
                chunk_index: chunk,
                correct,
            })
        };
        let turns = self.turns.saturating_add(1);
        // A question turn without a readable marker leaves a question nobody can check.
        let unchecked_after = |before: u8| match asked {
            Some(_) => 0,
            None => before.saturating_add(1),
        };
        match plan.action {
            TeachAction::Introduce { chunk } | TeachAction::Teach { chunk } => StudyState {
                chunk_index: chunk,
                attempts: 0,
                pending: question(chunk),
                completed: false,
                turns,
                unchecked: unchecked_after(0),
                ..StudyState::default()
            },
            TeachAction::Reask { chunk } => StudyState {
                chunk_index: chunk,
                attempts: self.attempts,
                pending: question(chunk),
                completed: false,
                turns,
                unchecked: unchecked_after(self.unchecked),
                ..StudyState::default()
            },
            TeachAction::Reexplain { chunk } => {
                let attempts = match plan.verdict {
                    Some(Verdict::Wrong { attempts_left }) => {
                        MAX_ATTEMPTS.saturating_sub(attempts_left)
                    }
                    // A re-explanation always follows a wrong answer; count one if the plan was
                    // built by hand without its verdict.
                    _ => self.attempts.saturating_add(1).min(MAX_ATTEMPTS),
                };
                StudyState {
                    chunk_index: chunk,
                    attempts,
                    pending: question(chunk),
                    completed: false,
                    turns,
                    unchecked: unchecked_after(self.unchecked),
                    ..StudyState::default()
                }
            }
            TeachAction::Hint { chunk } | TeachAction::Respond { chunk } => StudyState {
                chunk_index: chunk,
                attempts: self.attempts,
                pending: question(chunk).or_else(|| self.pending.clone()),
                completed: false,
                turns,
                // These turns ask nothing new; a marker they write anyway makes it checkable.
                unchecked: if asked.is_some() { 0 } else { self.unchecked },
                ..StudyState::default()
            },
            // Nothing is pending once the lesson is over, so no attempts are either.
            TeachAction::Complete => StudyState {
                chunk_index: self.chunk_index,
                attempts: 0,
                pending: None,
                completed: true,
                turns,
                ..StudyState::default()
            },
        }
    }
}

#[cfg(test)]
mod tests;
