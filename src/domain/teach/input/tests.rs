use proptest::prelude::*;

use super::*;

#[test]
fn parse_answer_reads_every_accepted_answer_form() {
    let cases = [
        ("A", Choice::A),
        ("a", Choice::A),
        ("B.", Choice::B),
        ("b)", Choice::B),
        ("(a)", Choice::A),
        ("A:", Choice::A),
        ("**B**", Choice::B),
        ("  b  ", Choice::B),
        ("option a", Choice::A),
        ("Option B", Choice::B),
        ("answer: b", Choice::B),
        ("my answer is B", Choice::B),
        ("I think it's A", Choice::A),
        ("I think it’s B", Choice::B),
        ("I think A", Choice::A),
        ("it's b", Choice::B),
        ("it is a.", Choice::A),
        ("I'd go with B", Choice::B),
        ("I'll go with a", Choice::A),
        ("I choose B", Choice::B),
        ("pick a please", Choice::A),
        ("A - because a closure captures its environment", Choice::A),
        ("A because it captures", Choice::A),
        ("a, since it borrows", Choice::A),
        ("B) the second statement", Choice::B),
        ("b the second statement", Choice::B),
        ("A - because option B is wrong", Choice::A),
        ("I think it's a, but I'm not sure", Choice::A),
        ("the first one", Choice::A),
        ("first", Choice::A),
        ("1", Choice::A),
        ("the second", Choice::B),
        ("2nd", Choice::B),
        ("option 2", Choice::B),
        ("option one", Choice::A),
        ("I'd say the latter", Choice::B),
        ("OPTION A", Choice::A),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_answer(text), Some(expected), "{text:?}");
    }
}

#[test]
fn parse_answer_does_not_read_ordinary_sentences_as_answers() {
    let cases = [
        "a closure is a function",
        "what is a trait?",
        "is it a or b?",
        "I have a question",
        "A closure is a function",
        "a or b",
        "both a and b",
        "I think a closure borrows",
        "it's a function",
        "the answer is a function pointer",
        "first, what is a closure?",
        "the first thing I noticed",
        "I think it's A but maybe B",
        "it's not b",
        "we need a plan b",
        "",
        "   ",
        "\u{200B}",
        "why?",
        "c",
        "can you explain option B?",
        "why is it a?",
        "what does the second option mean?",
    ];
    for text in cases {
        assert_eq!(parse_answer(text), None, "{text:?}");
    }
}

#[test]
fn classify_input_reads_an_empty_or_zero_width_message_as_start() {
    for text in ["", "   ", "\u{200B}", " \u{200B}\n"] {
        assert_eq!(classify_input(text, true), StudentInput::Start, "{text:?}");
    }
}

#[test]
fn classify_input_reads_hint_requests() {
    for text in [
        "hint",
        "Hint?",
        "give me a hint",
        "a hint please",
        "help",
        "I'm stuck",
        "i’m stuck!",
        "please give me a hint",
    ] {
        assert_eq!(classify_input(text, true), StudentInput::Hint, "{text:?}");
        assert_eq!(classify_input(text, false), StudentInput::Hint, "{text:?}");
    }
}

#[test]
fn classify_input_reads_skip_requests() {
    for text in [
        "skip",
        "Skip this",
        "next",
        "pass",
        "move on",
        "Let's move on.",
    ] {
        assert_eq!(classify_input(text, true), StudentInput::Skip, "{text:?}");
    }
}

#[test]
fn classify_input_reads_an_answer_only_when_a_question_is_pending() {
    assert_eq!(classify_input("B", true), StudentInput::Answer(Choice::B));
    assert_eq!(classify_input("B", false), StudentInput::Other("B".into()));
}

#[test]
fn classify_input_keeps_other_messages_verbatim() {
    let text = "  help me understand closures ";
    assert_eq!(classify_input(text, true), StudentInput::Other(text.into()));
    assert_eq!(
        classify_input("a closure is a function", true),
        StudentInput::Other("a closure is a function".into())
    );
}

proptest! {
    #[test]
    fn parse_answer_never_panics_on_any_input(text in any::<String>()) {
        let _ = parse_answer(&text);
    }

    #[test]
    fn classify_input_never_panics_on_any_input(text in any::<String>(), pending in any::<bool>()) {
        let _ = classify_input(&text, pending);
    }

    #[test]
    fn parse_answer_never_panics_on_answer_like_fragments(
        parts in proptest::collection::vec(
            prop::sample::select(vec!["a", "B", "option", "it's", "the", "first", "one", "(", ")", " ", "İ", "’", "-", "2nd", "answer is", "go with", "🦀"]),
            0..12,
        )
    ) {
        let _ = parse_answer(&parts.concat());
    }
}
