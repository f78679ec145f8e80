//! Questions the model asked without a readable marker: re-asked, then passed, never stuck.

use proptest::prelude::*;

use super::super::*;

/// A state right after a question about `chunk` that could not be checked.
fn unchecked(chunk_index: u32, unchecked: u8) -> StudyState {
    StudyState {
        chunk_index,
        turns: 3,
        unchecked,
        ..StudyState::default()
    }
}

#[test]
fn an_answer_to_an_unchecked_question_is_not_judged_and_a_new_question_is_asked() {
    let plan = unchecked(1, 1).plan(StudentInput::Answer(Choice::B), 4);
    assert_eq!(plan.verdict, None);
    assert_eq!(plan.action, TeachAction::Reask { chunk: 1 });
}

#[test]
fn a_remark_after_an_unchecked_question_also_gets_a_new_question() {
    let plan = unchecked(1, 1).plan(StudentInput::Other("no idea".into()), 4);
    assert_eq!(plan.action, TeachAction::Reask { chunk: 1 });
}

#[test]
fn an_answer_after_too_many_unchecked_questions_moves_on_unjudged() {
    let plan = unchecked(1, MAX_UNCHECKED).plan(StudentInput::Answer(Choice::A), 4);
    assert_eq!(plan.verdict, Some(Verdict::Unchecked));
    assert_eq!(plan.action, TeachAction::Teach { chunk: 2 });
    let last = unchecked(3, MAX_UNCHECKED).plan(StudentInput::Answer(Choice::A), 4);
    assert_eq!(last.action, TeachAction::Complete);
}

#[test]
fn skip_and_hint_still_work_on_an_unchecked_question() {
    let skip = unchecked(1, 1).plan(StudentInput::Skip, 4);
    assert_eq!(skip.verdict, Some(Verdict::Skipped { correct: None }));
    assert_eq!(skip.action, TeachAction::Teach { chunk: 2 });
    let hint = unchecked(1, 1).plan(StudentInput::Hint, 4);
    assert_eq!(hint.action, TeachAction::Respond { chunk: 1 });
}

#[test]
fn an_unchecked_question_makes_the_next_message_readable_as_an_answer() {
    let state = unchecked(0, 1);
    assert!(state.expects_answer());
    assert_eq!(
        classify_input("B", state.expects_answer()),
        StudentInput::Answer(Choice::B)
    );
    assert!(!unchecked(0, 0).expects_answer());
}

#[test]
fn a_question_turn_without_a_marker_counts_as_unchecked() {
    let start = StudyState::default();
    let plan = start.plan(StudentInput::Start, 3);
    let next = start.after(&plan, None);
    assert_eq!((next.pending.clone(), next.unchecked), (None, 1));
    let reask = next.plan(StudentInput::Answer(Choice::A), 3);
    let again = next.after(&reask, None);
    assert_eq!((again.chunk_index, again.unchecked), (0, 2));
    let marked = next.after(&reask, Some(Choice::B));
    assert_eq!(marked.pending.map(|p| p.correct), Some(Choice::B));
    assert_eq!(marked.unchecked, 0);
}

#[test]
fn turns_that_ask_nothing_keep_the_unchecked_count() {
    let state = unchecked(1, 1);
    let hint = state.plan(StudentInput::Hint, 4);
    assert_eq!(state.after(&hint, None).unchecked, 1);
    assert_eq!(state.after(&hint, Some(Choice::A)).unchecked, 0);
}

#[test]
fn the_next_chunk_starts_with_a_clean_count() {
    let state = unchecked(1, MAX_UNCHECKED);
    let plan = state.plan(StudentInput::Answer(Choice::A), 4);
    let next = state.after(&plan, Some(Choice::A));
    assert_eq!((next.chunk_index, next.unchecked), (2, 0));
}

proptest! {
    #[test]
    fn a_lesson_always_ends_whatever_markers_the_model_writes(
        chunks in 1u32..6,
        asked in prop::collection::vec(prop::option::of(prop_oneof![Just(Choice::A), Just(Choice::B)]), 64),
        answers in prop::collection::vec(prop_oneof![Just("A"), Just("B"), Just("hint"), Just("why?")], 64),
    ) {
        // Per chunk: at most MAX_ATTEMPTS graded answers, each after at most one re-ask, then
        // MAX_UNCHECKED unchecked ones; hints and remarks are not answers and are not counted.
        let bound = usize::try_from(chunks).unwrap() * usize::from(2 * MAX_ATTEMPTS + MAX_UNCHECKED) + 1;
        let mut state = StudyState::default();
        let plan = state.plan(StudentInput::Start, chunks);
        state = state.after(&plan, asked[0]);
        let mut answered = 0;
        for turn in 1..asked.len() {
            if state.completed {
                break;
            }
            let text = answers[turn];
            let input = classify_input(text, state.expects_answer());
            // Only answers must move the lesson forward; the student keeps answering.
            let input = match input {
                StudentInput::Hint | StudentInput::Other(_) => StudentInput::Answer(Choice::A),
                other => other,
            };
            answered += 1;
            let plan = state.plan(input, chunks);
            state = state.after(&plan, asked[turn]);
            prop_assert!(answered <= bound || state.completed, "stuck after {} answers: {:?}", answered, state);
        }
        prop_assert!(state.completed || answered < bound, "{:?}", state);
    }
}
