//! Teach mode answers of the offline tutor: the greeting, the question and its options, the
//! re-explanation, the hint, the answer to an off-script question, and the lesson's end.

use super::super::compose::compose;
use super::super::text;
use super::{
    CHUNK, INTRODUCE, OTHER, REEXPLAIN, correct_option, marker_count, parse_question, teach,
    wrong_option,
};
use crate::domain::teach::{Choice, TeachAction, Verdict};
use crate::domain::tutor::NextLesson;

#[test]
fn introduce_greets_by_name_names_the_lesson_and_shows_the_heading_and_an_excerpt() {
    let answer = compose(&teach(INTRODUCE, None));

    assert!(answer.starts_with("Hi Ada! Let's study **Agents 101** together"));
    assert!(answer.contains("### What is an agent"));
    assert!(answer.contains("An agent is a program that decides its next step by itself."));
    assert!(!answer.contains("```"), "code fences are stripped");
    assert!(
        !answer.lines().any(|line| line == "# What is an agent"),
        "headings are stripped from the excerpt"
    );
    assert!(answer.contains("Which statement matches what this section says?"));
}

#[test]
fn introduce_without_a_name_still_greets() {
    let mut context = teach(INTRODUCE, None);
    context.student_name = None;

    assert!(compose(&context).starts_with("Hi there!"));
}

#[test]
fn question_asking_actions_end_with_exactly_one_marker_on_the_last_line() {
    let actions = [
        INTRODUCE,
        TeachAction::Teach { chunk: 0 },
        REEXPLAIN,
        TeachAction::Respond { chunk: 0 },
    ];
    for action in actions {
        let answer = compose(&teach(action, None));

        assert_eq!(marker_count(&answer), 1, "{action:?}: {answer}");
        parse_question(&answer);
        assert!(answer.contains("\n[[CORRECT:"), "{action:?}");
    }
}

#[test]
fn the_correct_option_is_a_sentence_of_the_chunk() {
    let sentences = text::sentences(CHUNK);
    for action in [INTRODUCE, REEXPLAIN] {
        let answer = compose(&teach(action, None));

        assert!(sentences.contains(&correct_option(&answer)), "{answer}");
    }
}

#[test]
fn the_wrong_option_comes_from_the_other_chunk_when_there_is_one() {
    let answer = compose(&teach(INTRODUCE, None));

    assert!(text::sentences(OTHER).contains(&wrong_option(&answer)));
}

#[test]
fn without_another_chunk_the_wrong_option_is_the_right_one_flipped() {
    let mut context = teach(INTRODUCE, None);
    context.other_text = None;

    let answer = compose(&context);

    let wrong = wrong_option(&answer);
    assert_ne!(wrong, correct_option(&answer));
    assert!(!text::sentences(CHUNK).contains(&wrong), "{wrong}");
}

#[test]
fn both_letters_occur_as_the_correct_option_across_chunks() {
    let letters: Vec<Choice> = (0..10u32)
        .map(|chunk| {
            let mut context = teach(TeachAction::Teach { chunk }, Some(Verdict::Correct));
            context.chunk_text = format!("Section {chunk} explains one idea in detail. {CHUNK}");
            parse_question(&compose(&context)).0
        })
        .collect();

    assert!(letters.contains(&Choice::A), "{letters:?}");
    assert!(letters.contains(&Choice::B), "{letters:?}");
}

#[test]
fn reexplain_asks_a_different_question_with_a_different_excerpt() {
    let introduce = compose(&teach(INTRODUCE, None));
    let reexplain = compose(&teach(REEXPLAIN, Some(Verdict::Wrong { attempts_left: 2 })));

    assert!(reexplain.starts_with("Not quite — let's look at it from another angle."));
    assert!(reexplain.contains("2 attempts left"));
    assert_ne!(correct_option(&introduce), correct_option(&reexplain));
    assert!(reexplain.contains("A good agent always explains what it did."));
    assert!(!reexplain.contains("An agent is a program that decides"));
}

#[test]
fn reexplain_of_a_one_sentence_chunk_still_asks_a_new_question() {
    let mut context = teach(INTRODUCE, None);
    context.chunk_text = "Prompts are instructions written for a model.".to_string();
    context.other_text = None;
    let introduce = compose(&context);
    context.action = Some(REEXPLAIN);

    let reexplain = compose(&context);

    let question = |answer: &str| answer.lines().filter(|l| l.contains('?')).count();
    assert_eq!(question(&reexplain), 1);
    let asked = |answer: &str| -> Vec<String> {
        answer
            .lines()
            .filter(|l| l.contains('?') || l.starts_with("A)") || l.starts_with("B)"))
            .map(str::to_string)
            .collect()
    };
    assert_ne!(asked(&introduce), asked(&reexplain));
}

#[test]
fn teach_opens_with_feedback_on_the_verdict() {
    let cases = [
        (Verdict::Correct, "Correct! 🎉"),
        (
            Verdict::Revealed { correct: Choice::B },
            "The correct answer was **B**.",
        ),
        (
            Verdict::Skipped {
                correct: Some(Choice::A),
            },
            "Skipping — the answer was **A**.",
        ),
        (Verdict::Skipped { correct: None }, "Skipping ahead."),
    ];
    for (verdict, opening) in cases {
        let answer = compose(&teach(TeachAction::Teach { chunk: 0 }, Some(verdict)));

        assert!(answer.starts_with(opening), "{answer}");
        assert!(answer.contains("### What is an agent"));
    }
}

#[test]
fn hint_narrows_the_answer_without_naming_the_letter() {
    let question = compose(&teach(INTRODUCE, None));
    let hint = compose(&teach(TeachAction::Hint { chunk: 0 }, None));

    assert!(hint.starts_with("💡 **Hint:**"));
    assert!(!hint.contains("A)") && !hint.contains("B)"));
    assert!(!hint.contains("answer is"));
    let correct = correct_option(&question);
    let opening: Vec<&str> = correct.split(' ').take(4).collect();
    assert!(hint.contains(&opening.join(" ")), "{hint}");
}

#[test]
fn respond_quotes_the_most_relevant_sentence_then_repeats_the_question() {
    let mut context = teach(TeachAction::Respond { chunk: 0 }, None);
    context.student_message = "When does the loop stop?".to_string();

    let answer = compose(&context);

    assert!(
        answer.contains("The **loop** stops when the goal is reached."),
        "{answer}"
    );
    assert!(answer.contains("Back to our question"));
    assert_eq!(
        parse_question(&answer).0,
        parse_question(&compose(&teach(INTRODUCE, None))).0
    );
}

#[test]
fn complete_congratulates_and_lists_every_section() {
    let answer = compose(&teach(TeachAction::Complete, None));

    assert!(answer.starts_with("🎉 You finished **Agents 101**!"));
    assert!(answer.contains("- What is an agent\n- Tools"));
    assert!(!answer.contains('?'));
}

#[test]
fn complete_suggests_the_next_lesson_when_one_is_given() {
    let mut context = teach(TeachAction::Complete, Some(Verdict::Correct));
    assert!(!compose(&context).contains("Up next"), "none given");
    context.next_lesson = Some(NextLesson {
        title: "Tools in depth".to_string(),
        path: "01-Intro/02-`tools`".to_string(),
    });

    let answer = compose(&context);

    assert!(
        answer.contains(
            "Up next: **Tools in depth** (`01-Intro/02-tools`) builds on what you just learned."
        ),
        "the path stays one code span: {answer}"
    );
    assert!(answer.ends_with("Great work — come back any time to review."));
    assert_eq!(marker_count(&answer), 0);
    context.next_lesson = Some(NextLesson {
        title: "  ".to_string(),
        path: "01-Intro/03-untitled".to_string(),
    });
    assert!(
        !compose(&context).contains("Up next"),
        "a lesson without a title is not suggested"
    );
}
