//! Chunk outcomes and the open question's ordinal, turn by turn.

use super::super::*;

/// Plays `inputs` from the start of a lesson of `chunks` chunks; every question is asked with
/// the correct option A.
fn play(chunks: u32, inputs: &[StudentInput]) -> StudyState {
    let mut state = StudyState::default();
    for input in std::iter::once(&StudentInput::Start).chain(inputs) {
        let plan = state.plan(input.clone(), chunks);
        let asks = !matches!(
            plan.action,
            TeachAction::Hint { .. } | TeachAction::Complete
        );
        state = state.after(&plan, asks.then_some(Choice::A));
    }
    state
}

fn outcome(section: u32, outcome: Outcome, hints: u8, wrong: u8) -> SectionOutcome {
    SectionOutcome {
        section,
        outcome,
        hints,
        wrong,
    }
}

#[test]
fn every_way_of_finishing_a_chunk_is_recorded() {
    use StudentInput::{Answer, Hint, Skip};
    let state = play(
        5,
        &[
            Answer(Choice::A),
            Hint,
            Answer(Choice::A),
            Answer(Choice::B),
            Answer(Choice::A),
            Answer(Choice::B),
            Answer(Choice::B),
            Answer(Choice::B),
            Skip,
        ],
    );
    assert_eq!(
        state.outcomes,
        vec![
            outcome(0, Outcome::FirstTry, 0, 0),
            outcome(1, Outcome::AfterHint, 1, 0),
            outcome(2, Outcome::AfterRetries, 0, 1),
            outcome(3, Outcome::Revealed, 0, 3),
            outcome(4, Outcome::Skipped, 0, 0),
        ]
    );
    assert!(state.completed);
}

#[test]
fn a_hint_after_a_wrong_answer_counts_as_right_after_a_hint() {
    use StudentInput::{Answer, Hint};
    let state = play(2, &[Answer(Choice::B), Hint, Answer(Choice::A)]);
    assert_eq!(state.outcomes, vec![outcome(0, Outcome::AfterHint, 1, 1)]);
    assert_eq!((state.hints, state.attempts), (0, 0), "reset for chunk 1");
}

#[test]
fn wrong_answers_and_hints_record_nothing_until_the_chunk_is_left() {
    use StudentInput::{Answer, Hint};
    let state = play(3, &[Answer(Choice::B), Hint]);
    assert!(state.outcomes.is_empty());
    assert_eq!(state.hints, 1);
}

#[test]
fn the_open_question_advances_when_asked_again_and_stays_for_hints_and_replies() {
    use StudentInput::{Answer, Hint, Other};
    let mut state = StudyState::default();
    let steps = [
        (StudentInput::Start, 0),
        (Answer(Choice::B), 1),
        (Hint, 1),
        (Other("why?".into()), 1),
        (Answer(Choice::B), 2),
        (Hint, 2),
        (Answer(Choice::A), 0),
    ];
    for (input, expected) in steps {
        let plan = state.plan(input.clone(), 3);
        assert_eq!(
            question_variant(&state, plan.action),
            expected,
            "{input:?}: question asked"
        );
        state = state.after(&plan, Some(Choice::A));
        assert_eq!(state.question, expected, "{input:?}: question open");
    }
}

#[test]
fn a_record_of_a_chunk_is_replaced_not_repeated() {
    let state = StudyState {
        chunk_index: 1,
        turns: 4,
        pending: Some(PendingQuestion {
            chunk_index: 1,
            correct: Choice::A,
        }),
        outcomes: vec![outcome(1, Outcome::Skipped, 0, 0)],
        ..StudyState::default()
    };
    let plan = state.plan(StudentInput::Answer(Choice::A), 3);
    let next = state.after(&plan, Some(Choice::B));
    assert_eq!(next.outcomes, vec![outcome(1, Outcome::FirstTry, 0, 0)]);
}

#[test]
fn states_stored_before_outcomes_existed_still_read() {
    let old = r#"{"chunk_index":2,"attempts":1,"pending":null,"completed":false,"turns":5}"#;
    let state: StudyState = serde_json::from_str(old).expect("old state");
    assert_eq!(state.chunk_index, 2);
    assert!(state.outcomes.is_empty());
    assert_eq!(
        (state.question, state.hints, state.section_count),
        (0, 0, 0)
    );
}
