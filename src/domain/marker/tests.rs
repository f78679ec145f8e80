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
fn only_a_possible_marker_prefix_is_held_back() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("see [[corr"), "see");
    assert_eq!(filter.push("ection]] ok"), " [[correction]] ok");
    assert_eq!(filter.push("[x]"), "[x]");
}

#[test]
fn the_last_of_several_markers_wins() {
    assert_eq!(
        joined(&["[[CORRECT:A]]x[[ correct:b]]"]),
        ("x".to_string(), Some(Choice::B))
    );
}

#[test]
fn an_unterminated_marker_at_the_end_is_emitted_by_finish() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("text [[CORRECT:A"), "text");
    assert_eq!(filter.finish(), " [[CORRECT:A");
    assert_eq!(filter.choice(), None);
}

#[test]
fn a_stray_opening_never_holds_the_stream_back_beyond_the_marker_bound() {
    let mut filter = MarkerFilter::new();
    assert_eq!(filter.push("[[correct"), "");
    let spaces = " ".repeat(MAX_MARKER_CHARS);
    let out = filter.push(&format!("{spaces}x"));
    assert_eq!(out, format!("[[correct{spaces}x"));
}

#[test]
fn an_overlong_marker_is_not_removed() {
    let long = format!("[[correct{}:A]]", " ".repeat(MAX_MARKER_CHARS));
    assert_eq!(joined(&[&long]), (long.clone(), None));
}

#[test]
fn extra_opening_brackets_before_a_marker_are_kept() {
    assert_eq!(
        joined(&["[[[CORRECT:B]]!"]),
        ("[!".to_string(), Some(Choice::B))
    );
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

/// Text that cannot spell "correct" by itself (no `c`), but has brackets, colons and Unicode.
fn filler() -> impl Strategy<Value = String> {
    prop_oneof![r"[abxyzAB0-9 \n\t\[\]:éü漢🙂.,*]{0,30}", r"[ \n]{0,3}",]
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
        parts in prop::collection::vec(
            prop::sample::select(vec!["[", "[[", "]", "]]", "correct", "CoRrEcT", ":", " ", "\n", "a", "B", "é", "x"]),
            0..30,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let text = parts.concat();
        let whole = joined(&[&text]);
        let deltas = split_at_chars(&text, &cuts);
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        prop_assert_eq!(joined(&refs), whole);
    }

    #[test]
    fn the_filter_never_panics_on_any_deltas(deltas in prop::collection::vec(any::<String>(), 0..8)) {
        let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let _ = run(&refs);
    }
}
