//! How each chunk of a lesson went, recorded in the study state as the student finishes it, and
//! which question of a chunk is open.

use serde::{Deserialize, Serialize};

use super::{StudyState, TeachAction, TurnPlan, Verdict};

/// Most chunk outcomes one study state keeps (a lesson has far fewer chunks).
pub const MAX_OUTCOMES: usize = 1_000;

/// How the student finished a chunk's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered right without a wrong answer or a hint.
    FirstTry,
    /// Answered right after asking for a hint.
    AfterHint,
    /// Answered right after one or more wrong answers, without a hint.
    AfterRetries,
    /// Answered wrong too often: the answer was revealed.
    Revealed,
    /// Skipped.
    Skipped,
    /// Moved on without a check (the tutor's questions could not be checked).
    Unchecked,
}

impl Outcome {
    /// Whether the student gave the right answer.
    pub fn is_right(self) -> bool {
        matches!(self, Self::FirstTry | Self::AfterHint | Self::AfterRetries)
    }

    /// Whether the student answered at all (right, or wrong until it was revealed).
    pub fn answered(self) -> bool {
        self.is_right() || self == Self::Revealed
    }
}

/// The outcome of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionOutcome {
    /// The chunk (0-based).
    pub section: u32,
    /// How it went.
    pub outcome: Outcome,
    /// Hints asked for on it.
    #[serde(default)]
    pub hints: u8,
    /// Wrong answers given on it.
    #[serde(default)]
    pub wrong: u8,
}

/// Which question of its chunk the tutor asks (or hints at) in the turn of `action` after
/// `state`: 0 when a chunk is taught, one more than the open one when a question is asked
/// again (re-explained or re-asked), and the open one for a hint or a reply that repeats it.
pub fn question_variant(state: &StudyState, action: TeachAction) -> u32 {
    match action {
        TeachAction::Introduce { .. } | TeachAction::Teach { .. } | TeachAction::Complete => 0,
        TeachAction::Reexplain { .. } | TeachAction::Reask { .. } => {
            state.question.saturating_add(1)
        }
        TeachAction::Hint { .. } | TeachAction::Respond { .. } => state.question,
    }
}

impl StudyState {
    /// The chunk outcomes once the turn of `plan` completed: a verdict that moves on records
    /// how the current chunk went (replacing an earlier record of that chunk).
    pub(super) fn outcomes_after(&self, plan: &TurnPlan) -> Vec<SectionOutcome> {
        let mut outcomes = self.outcomes.clone();
        let outcome = match plan.verdict {
            Some(Verdict::Correct) if self.hints > 0 => Outcome::AfterHint,
            Some(Verdict::Correct) if self.attempts > 0 => Outcome::AfterRetries,
            Some(Verdict::Correct) => Outcome::FirstTry,
            Some(Verdict::Revealed { .. }) => Outcome::Revealed,
            Some(Verdict::Skipped { .. }) => Outcome::Skipped,
            Some(Verdict::Unchecked) => Outcome::Unchecked,
            Some(Verdict::Wrong { .. }) | None => return outcomes,
        };
        // The chunk being left: the one before the chunk taught next, or the current one when
        // the lesson completes.
        let section = match plan.action {
            TeachAction::Teach { chunk } if chunk > 0 => chunk - 1,
            _ => self.chunk_index,
        };
        let wrong = match outcome {
            Outcome::Revealed => self.attempts.saturating_add(1),
            _ => self.attempts,
        };
        let record = SectionOutcome {
            section,
            outcome,
            hints: self.hints,
            wrong,
        };
        if let Some(old) = outcomes.iter_mut().find(|o| o.section == section) {
            *old = record;
        } else if outcomes.len() < MAX_OUTCOMES {
            outcomes.push(record);
        }
        outcomes
    }
}
