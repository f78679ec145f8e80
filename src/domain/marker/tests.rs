use proptest::prelude::*;

use super::*;

/// Runs `deltas` through a fresh filter: every emitted string, then the final choice.
fn run(deltas: &[&str]) -> (Vec<String>, Option<Choice>) {
    let mut filter = MarkerFilter::new();
    let mut emitted: Vec<String> = deltas.iter().map(|d| filter.push(d)).collect();
    emitted.push(filter.finish());
    (emitted, filter.choice())
}

fn joined(deltas: &[&str]) -> (String, Option<Choice>) {
    let (emitted, choice) = run(deltas);
    (emitted.concat(), choice)
}

#[test]
fn render_writes_the_marker_the_filter_reads() {
    for choice in [Choice::A, Choice::B] {
        assert_eq!(
            joined(&["Q?", &render(choice)]),
            ("Q?".to_string(), Some(choice))
        );
    }
}

#[test]
fn text_without_markers_passes_through_unchanged() {
    let text = "Closures *capture* [their] environment.\n\nA) yes\nB) no\n";
    assert_eq!(joined(&[text]), (text.to_string(), None));
}

#[test]
fn a_marker_split_across_two_deltas_is_removed() {
    assert_eq!(
        joined(&["Pick one.\n[[CORR", "ECT:B]]"]),
        ("Pick one.".to_string(), Some(Choice::B))
    );
}

#[test]
fn a_marker_split_across_three_deltas_is_removed() {
    let (emitted, choice) = run(&["A) x\nB) y\n[", "[correct : ", "a ]]"]);
    assert_eq!(emitted.concat(), "A) x\nB) y");
    assert_eq!(choice, Some(Choice::A));
    assert!(emitted.iter().all(|e| !e.contains('[')));
}

#[test]
fn a_marker_split_across_ten_deltas_is_removed() {
    let deltas = ["Done", " ", "[", "[", " C", "oRr", "ect", ":", "B", "]]"];
    assert_eq!(joined(&deltas), ("Done".to_string(), Some(Choice::B)));
}

#[test]
fn a_marker_in_the_middle_keeps_the_whitespace_around_it() {
    assert_eq!(
        joined(&["one [[CORRECT:A]] two"]),
        ("one  two".to_string(), Some(Choice::A))
    );
}

#[test]
fn whitespace_around_a_final_marker_is_trimmed() {
    assert_eq!(
        joined(&["B) no\n\n", "[[CORRECT:A]]", "\n  "]),
        ("B) no".to_string(), Some(Choice::A))
    );
}

#[test]
fn trailing_whitespace_without_a_final_marker_is_kept() {
    assert_eq!(joined(&["end \n"]), ("end \n".to_string(), None));
}

#[test]
fn whitespace_is_held_only_until_visible_text_follows() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("Hello "), "Hello");
    assert_eq!(filter.push("world"), " world");
}

#[test]
fn only_a_possible_marker_start_is_held_back() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("see [[co"), "see");
    assert_eq!(filter.push("st]] ok"), " [[cost]] ok");
    assert_eq!(filter.push("[x]"), "[x]");
}

#[test]
fn a_bracketed_word_starting_with_correct_is_removed_too() {
    assert_eq!(
        joined(&["see [[corr", "ection]] ok"]),
        ("see  ok".to_string(), None)
    );
}

#[test]
fn the_last_of_several_markers_wins() {
    assert_eq!(
        joined(&["[[CORRECT:A]]x[[ correct:b]]"]),
        ("x".to_string(), Some(Choice::B))
    );
}

#[test]
fn an_unterminated_marker_at_the_end_is_removed_and_still_read() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("text [[CORRECT:A"), "text");
    assert_eq!(filter.finish(), "");
    assert_eq!(filter.choice(), Some(Choice::A));
}

#[test]
fn a_marker_start_cut_off_by_the_end_of_the_answer_is_dropped() {
    for cut in ["[", "[[", "[[ ", "[[C", "[[cOrRe", "[ *corr"] {
        let (emitted, choice) = run(&["Which is true?\n", cut]);
        assert_eq!(emitted.concat(), "Which is true?", "cut at {cut:?}");
        assert_eq!(choice, None);
    }
}

#[test]
fn an_overlong_marker_is_removed_but_names_no_option() {
    let long = format!("[[correct{}:A]]", " ".repeat(MAX_MARKER_BODY_CHARS));
    assert_eq!(joined(&["Q?\n", &long]), ("Q?".to_string(), None));
}

#[test]
fn extra_opening_brackets_before_a_marker_are_removed_with_it() {
    assert_eq!(
        joined(&["[[[CORRECT:B]]!"]),
        ("!".to_string(), Some(Choice::B))
    );
}

#[test]
fn marker_variants_are_removed_and_read_when_they_name_one_option() {
    let cases: [(&str, Option<Choice>); 12] = [
        ("[[CORRECT: Option A]]", Some(Choice::A)),
        ("[[correct answer: b]]", Some(Choice::B)),
        ("[CORRECT:A]", Some(Choice::A)),
        ("[[CORRECT:A]", Some(Choice::A)),
        ("[[**Correct**: B]]", Some(Choice::B)),
        ("[[CORRECT_OPTION=b]]", Some(Choice::B)),
        ("[[ CORRECT : B) Tools let an agent act ]]", Some(Choice::B)),
        ("[[\u{200B}correct:(A)]]", Some(Choice::A)),
        ("[[CORRECT: A or B]]", None),
        ("[[CORRECT:C]]", None),
        ("[[CORRECT]]", None),
        ("[[CORRECTION: a]]", None),
    ];
    for (variant, choice) in cases {
        assert_eq!(
            joined(&["A) x\nB) y\n", variant]),
            ("A) x\nB) y".to_string(), choice),
            "{variant}"
        );
    }
}

#[test]
fn an_unclosed_marker_ends_with_its_line() {
    assert_eq!(
        joined(&["Q?\n[[CORRECT: B\nNext line."]),
        ("Q?\n\nNext line.".to_string(), Some(Choice::B))
    );
}

#[test]
fn text_joined_by_removing_a_marker_cannot_form_another() {
    let (emitted, choice) = run(&["[co", "[[CORRECT:A]]", "rrect:B] done"]);
    let all = emitted.concat();
    assert!(!all.to_lowercase().contains("correct"), "{all:?}");
    assert_eq!(all, "[co done");
    assert_eq!(choice, Some(Choice::B));
}

#[test]
fn code_with_nested_brackets_is_left_alone() {
    let code = "let grid = [[0; 3]; 3];\nlet rows = [[a, b], [c, d]];\nx[i][j]\n";
    assert_eq!(joined(&[code]), (code.to_string(), None));
}

#[test]
fn multibyte_text_next_to_a_marker_survives() {
    assert_eq!(
        joined(&["é漢", "[[CORRECT:A]]", "🦀"]),
        ("é漢🦀".to_string(), Some(Choice::A))
    );
}

/// A marker with random case and spacing, and the choice it names.
fn marker() -> impl Strategy<Value = (String, Choice)> {
    (
        prop::collection::vec(prop::sample::select(vec!["", " ", "\t", "  "]), 4),
        prop::collection::vec(any::<bool>(), 7),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(spaces, upper, is_a, upper_letter)| {
            let word: String = "correct"
                .chars()
                .zip(upper)
                .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            let letter = match (is_a, upper_letter) {
                (true, true) => "A",
                (true, false) => "a",
                (false, true) => "B",
                (false, false) => "b",
            };
            let choice = if is_a { Choice::A } else { Choice::B };
            let text = format!(
                "[[{}{word}{}:{}{letter}{}]]",
                spaces[0], spaces[1], spaces[2], spaces[3]
            );
            (text, choice)
        })
}

/// Text that cannot spell "correct" by itself (no `c`), with brackets that cannot open a marker
/// (`[` only before `x`), colons, decoration and Unicode.
fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "x", "A", "B", "0", " ", "\n", "\t", "]", ":", "é", "漢", "🙂", ".", "*",
                "[x]", "[ x",
            ]),
            0..12,
        )
        .prop_map(|parts| parts.concat()),
        r"[ \n]{0,3}",
    ]
}

/// Pieces a model could write, including every kind of marker fragment.
fn soup() -> impl Strategy<Value = Vec<String>> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "[",
            "[[",
            "]",
            "]]",
            "correct",
            "CoRrEcT",
            "co",
            "rrect",
            "c",
            "orrect",
            ":",
            " ",
            "\t",
            "\n",
            "a",
            "B",
            "A)",
            "option",
            "*",
            "_",
            "`",
            "\u{200B}",
            "é",
            "x",
            "[[CORRECT:A]]",
            "[[ correct : b ]]",
            "[CORRECT: Option A]",
        ])
        .prop_map(String::from),
        any::<String>().prop_map(|s| s.chars().take(4).collect()),
    ];
    prop::collection::vec(piece, 0..40)
}

/// Whether `text` has an opening bracket followed by gap characters and the word `correct`,
/// checked independently of the filter's state machine.
fn has_marker_like(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).filter(|&i| chars[i] == '[').any(|i| {
        let rest: String = chars[i + 1..]
            .iter()
            .skip_while(|&&c| is_gap(c))
            .take(7)
            .collect();
        rest.eq_ignore_ascii_case("correct")
    })
}

/// Splits `text` at the given char positions.
fn split_at_chars(text: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut at: Vec<usize> = cuts.iter().map(|c| bounds[c.index(bounds.len())]).collect();
    at.push(0);
    at.push(text.len());
    at.sort_unstable();
    at.windows(2)
        .map(|w| text[w[0]..w[1]].to_string())
        .collect()
}

proptest! {
    #[test]
    fn streamed_markers_are_removed_whatever_the_split(
        fillers in prop::collection::vec(filler(), 4),
        markers in prop::collection::vec(marker(), 0..=3),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut text = fillers[0].clone();
        let mut expected = fillers[0].clone();
        for (i, (m, _)) in markers.iter().enumerate() {
            text.push_str(m);
            text.push_str(&fillers[i + 1]);
            expected.push_str(&fillers[i + 1]);
        }
        let final_marker = !markers.is_empty()
            && fillers[markers.len()].chars().all(char::is_whitespace);
        if final_marker {
            expected.truncate(expected.trim_end().len());
        }
        let deltas = split_at_chars(&text, &cuts);
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let (emitted, choice) = run(&refs);
        let all = emitted.concat();
        prop_assert_eq!(&all, &expected);
        for piece in emitted.iter().chain(std::iter::once(&all)) {
            // Fillers have no `c`, so any "correct" (even "[[ correct") is a leaked marker.
            prop_assert!(!piece.to_lowercase().contains("correct"), "leaked in {:?}", piece);
        }
        prop_assert_eq!(choice, markers.last().map(|(_, c)| *c));
    }

    #[test]
    fn the_split_of_the_stream_never_changes_the_output(
        parts in soup(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let text = parts.concat();
        let whole = joined(&[&text]);
        let deltas = split_at_chars(&text, &cuts);
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        prop_assert_eq!(joined(&refs), whole);
    }

    #[test]
    fn no_marker_like_text_ever_leaves_the_filter_whatever_the_model_writes(
        parts in soup(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let text = parts.concat();
        let deltas = split_at_chars(&text, &cuts);
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let (emitted, _) = run(&refs);
        let all = emitted.concat();
        prop_assert!(!has_marker_like(&all), "leaked in {:?} from {:?}", all, text);
        for piece in &emitted {
            prop_assert!(!has_marker_like(piece), "leaked in {:?}", piece);
        }
    }

    #[test]
    fn an_answer_cut_anywhere_inside_a_marker_leaks_none_of_it(
        before in filler(),
        (marker, _) in marker(),
        cut in any::<prop::sample::Index>(),
    ) {
        let chars: Vec<char> = marker.chars().collect();
        let kept: String = chars[..cut.index(chars.len())].iter().collect();
        let (all, _) = joined(&[&before, &kept]);
        let visible = before.trim_end();
        prop_assert!(all == before || all == visible, "{:?} became {:?}", before, all);
    }

    #[test]
    fn the_filter_never_panics_on_any_deltas(deltas in prop::collection::vec(any::<String>(), 0..8)) {
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let _ = run(&refs);
    }
}
