use super::*;

fn pending(chunk_index: u32, correct: Choice) -> Option<PendingQuestion> {
    Some(PendingQuestion {
        chunk_index,
        correct,
    })
}

/// A state mid-lesson: `turns` > 0, so inputs are not read as the first message.
fn at(chunk_index: u32, attempts: u8, pending: Option<PendingQuestion>) -> StudyState {
    StudyState {
        chunk_index,
        attempts,
        pending,
        completed: false,
        turns: 3,
        ..StudyState::default()
    }
}

/// A named case: state, input and chunk count, then the expected verdict and action.
type Row = (
    &'static str,
    StudyState,
    StudentInput,
    u32,
    Option<Verdict>,
    TeachAction,
);

#[test]
fn plan_follows_the_teaching_rules_for_every_kind_of_input() {
    use StudentInput::{Answer, Hint, Other, Skip, Start};
    use TeachAction as T;
    let a = pending(1, Choice::A);
    let cases: Vec<Row> = vec![
        (
            "correct answer moves on",
            at(1, 0, a.clone()),
            Answer(Choice::A),
            4,
            Some(Verdict::Correct),
            T::Teach { chunk: 2 },
        ),
        (
            "correct answer after a wrong one moves on",
            at(1, 2, a.clone()),
            Answer(Choice::A),
            4,
            Some(Verdict::Correct),
            T::Teach { chunk: 2 },
        ),
        (
            "first wrong answer re-explains",
            at(1, 0, a.clone()),
            Answer(Choice::B),
            4,
            Some(Verdict::Wrong { attempts_left: 2 }),
            T::Reexplain { chunk: 1 },
        ),
        (
            "second wrong answer re-explains",
            at(1, 1, a.clone()),
            Answer(Choice::B),
            4,
            Some(Verdict::Wrong { attempts_left: 1 }),
            T::Reexplain { chunk: 1 },
        ),
        (
            "third wrong answer reveals and moves on",
            at(1, 2, a.clone()),
            Answer(Choice::B),
            4,
            Some(Verdict::Revealed { correct: Choice::A }),
            T::Teach { chunk: 2 },
        ),
        (
            "third wrong answer on the last chunk completes",
            at(3, 2, pending(3, Choice::A)),
            Answer(Choice::B),
            4,
            Some(Verdict::Revealed { correct: Choice::A }),
            T::Complete,
        ),
        (
            "correct answer on the last chunk completes",
            at(3, 0, pending(3, Choice::B)),
            Answer(Choice::B),
            4,
            Some(Verdict::Correct),
            T::Complete,
        ),
        (
            "hint with a pending question hints",
            at(1, 1, a.clone()),
            Hint,
            4,
            None,
            T::Hint { chunk: 1 },
        ),
        (
            "hint without a pending question responds",
            at(1, 0, None),
            Hint,
            4,
            None,
            T::Respond { chunk: 1 },
        ),
        (
            "skip with a pending question reveals and moves on",
            at(1, 1, a.clone()),
            Skip,
            4,
            Some(Verdict::Skipped {
                correct: Some(Choice::A),
            }),
            T::Teach { chunk: 2 },
        ),
        (
            "skip without a pending question moves on",
            at(1, 0, None),
            Skip,
            4,
            Some(Verdict::Skipped { correct: None }),
            T::Teach { chunk: 2 },
        ),
        (
            "skip on the last chunk completes",
            at(3, 0, pending(3, Choice::B)),
            Skip,
            4,
            Some(Verdict::Skipped {
                correct: Some(Choice::B),
            }),
            T::Complete,
        ),
        (
            "other text responds",
            at(1, 0, a.clone()),
            Other("why?".into()),
            4,
            None,
            T::Respond { chunk: 1 },
        ),
        (
            "answer without a pending question responds",
            at(1, 0, None),
            Answer(Choice::B),
            4,
            None,
            T::Respond { chunk: 1 },
        ),
        (
            "start re-introduces the current chunk",
            at(2, 1, a.clone()),
            Start,
            4,
            None,
            T::Introduce { chunk: 2 },
        ),
        (
            "first message introduces whatever it says",
            StudyState::default(),
            Other("hi".into()),
            4,
            None,
            T::Introduce { chunk: 0 },
        ),
        (
            "first message introduces even an answer",
            StudyState::default(),
            Answer(Choice::A),
            4,
            None,
            T::Introduce { chunk: 0 },
        ),
        (
            "zero-chunk lesson completes on start",
            StudyState::default(),
            Start,
            0,
            None,
            T::Complete,
        ),
        (
            "zero-chunk lesson completes on any input",
            at(0, 0, None),
            Other("hi".into()),
            0,
            None,
            T::Complete,
        ),
        (
            "completed lesson stays complete on an answer",
            StudyState {
                completed: true,
                ..at(3, 0, None)
            },
            Answer(Choice::A),
            4,
            None,
            T::Complete,
        ),
        (
            "completed lesson stays complete on start",
            StudyState {
                completed: true,
                ..at(3, 0, None)
            },
            Start,
            4,
            None,
            T::Complete,
        ),
        (
            "chunk beyond a shrunk lesson is read as its last",
            at(9, 0, pending(9, Choice::A)),
            Hint,
            4,
            None,
            T::Hint { chunk: 3 },
        ),
    ];
    for (name, state, input, chunks, verdict, action) in cases {
        let plan = state.plan(input.clone(), chunks);
        assert_eq!(plan.input, input, "{name}: input");
        assert_eq!(plan.verdict, verdict, "{name}: verdict");
        assert_eq!(plan.action, action, "{name}: action");
    }
}

#[test]
fn after_introduce_records_the_asked_question_for_that_chunk() {
    let state = StudyState::default();
    let plan = state.plan(StudentInput::Start, 3);
    let next = state.after(&plan, Some(Choice::B));
    assert_eq!(
        next,
        StudyState {
            chunk_index: 0,
            attempts: 0,
            pending: pending(0, Choice::B),
            completed: false,
            turns: 1,
            ..StudyState::default()
        }
    );
}

#[test]
fn after_teach_moves_to_the_new_chunk_and_resets_attempts() {
    let state = at(1, 2, pending(1, Choice::A));
    let plan = state.plan(StudentInput::Answer(Choice::A), 4);
    let next = state.after(&plan, Some(Choice::A));
    assert_eq!(next.chunk_index, 2);
    assert_eq!(next.attempts, 0);
    assert_eq!(next.pending, pending(2, Choice::A));
    assert_eq!(next.turns, 4);
}

#[test]
fn after_teach_without_a_question_leaves_nothing_pending() {
    let state = at(1, 0, pending(1, Choice::A));
    let plan = state.plan(StudentInput::Answer(Choice::A), 4);
    assert_eq!(state.after(&plan, None).pending, None);
}

#[test]
fn after_wrong_answers_counts_attempts_until_the_reveal() {
    let mut state = at(0, 0, pending(0, Choice::A));
    let first = state.plan(StudentInput::Answer(Choice::B), 2);
    state = state.after(&first, Some(Choice::B));
    assert_eq!(
        (state.attempts, state.pending.clone()),
        (1, pending(0, Choice::B))
    );

    let second = state.plan(StudentInput::Answer(Choice::A), 2);
    assert_eq!(second.verdict, Some(Verdict::Wrong { attempts_left: 1 }));
    state = state.after(&second, Some(Choice::A));
    assert_eq!(state.attempts, 2);

    let third = state.plan(StudentInput::Answer(Choice::B), 2);
    assert_eq!(
        third.verdict,
        Some(Verdict::Revealed { correct: Choice::A })
    );
    assert_eq!(third.action, TeachAction::Teach { chunk: 1 });
    state = state.after(&third, Some(Choice::B));
    assert_eq!((state.chunk_index, state.attempts), (1, 0));
}

#[test]
fn after_reexplain_without_a_new_question_clears_the_pending_one() {
    let state = at(0, 0, pending(0, Choice::A));
    let plan = state.plan(StudentInput::Answer(Choice::B), 2);
    let next = state.after(&plan, None);
    assert_eq!((next.attempts, next.pending), (1, None));
}

#[test]
fn after_hint_keeps_the_pending_question_and_attempts() {
    let state = at(1, 1, pending(1, Choice::B));
    let plan = state.plan(StudentInput::Hint, 3);
    let next = state.after(&plan, None);
    assert_eq!((next.attempts, next.pending), (1, pending(1, Choice::B)));
}

#[test]
fn after_respond_records_a_question_the_model_asked_again() {
    let state = at(1, 1, pending(1, Choice::B));
    let plan = state.plan(StudentInput::Other("what is a trait?".into()), 3);
    let next = state.after(&plan, Some(Choice::A));
    assert_eq!((next.attempts, next.pending), (1, pending(1, Choice::A)));
}

#[test]
fn after_complete_marks_the_lesson_done_with_nothing_pending() {
    let state = at(2, 1, pending(2, Choice::A));
    let plan = state.plan(StudentInput::Skip, 3);
    assert_eq!(plan.action, TeachAction::Complete);
    let next = state.after(&plan, Some(Choice::B));
    assert!(next.completed);
    assert_eq!(next.pending, None);
    assert_eq!(next.turns, 4);
    assert_eq!(
        state.after(&plan, None).plan(StudentInput::Start, 3).action,
        TeachAction::Complete
    );
}

mod outcomes;
mod unchecked;
