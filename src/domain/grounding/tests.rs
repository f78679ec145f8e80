use super::*;

fn filter_all(sources: u32, deltas: &[&str]) -> (String, Vec<(u32, usize)>) {
    let mut f = CitationFilter::new(sources);
    let mut out: String = deltas.iter().map(|d| f.push(d)).collect();
    out.push_str(&f.finish());
    (out, f.cited().to_vec())
}

#[test]
fn citations_are_removed_with_the_spaces_before_them_and_their_offsets_kept() {
    let (text, cited) = filter_all(3, &["An agent loops [1]. It stops [2, 3]."]);
    assert_eq!(text, "An agent loops. It stops.");
    assert_eq!(cited, vec![(1, 14), (2, 24), (3, 24)]);
}

#[test]
fn a_citation_split_across_deltas_is_removed_all_the_same() {
    let whole = filter_all(2, &["Agents plan [2] and act [1]."]);
    let split = filter_all(2, &["Agents plan ", "[", "2", "] and ", "act [1", "]."]);
    assert_eq!(whole, split);
    assert_eq!(split.0, "Agents plan and act.");
}

#[test]
fn brackets_that_name_no_source_stay_in_the_text() {
    for text in [
        "index [0] here",
        "source [4] here",
        "a [note] here",
        "empty [] here",
        "list [1, 9] here",
        "open [1 at the end",
        "array[12345678901234] too long",
    ] {
        let (out, cited) = filter_all(3, &[text]);
        assert_eq!(out, text);
        assert!(cited.is_empty(), "{text}");
    }
}

#[test]
fn without_sources_nothing_is_removed() {
    let (out, cited) = filter_all(0, &["see [1] "]);
    assert_eq!(out, "see [1] ");
    assert!(cited.is_empty());
}

#[test]
fn trailing_spaces_come_out_at_the_end() {
    assert_eq!(filter_all(2, &["done  "]).0, "done  ");
    assert_eq!(filter_all(2, &["x [", "1"]).0, "x [1");
}

#[test]
fn offsets_count_characters_not_bytes() {
    let (text, cited) = filter_all(1, &["Größe é [1]!"]);
    assert_eq!(text, "Größe é!");
    assert_eq!(cited, vec![(1, 7)]);
}

#[test]
fn terms_drop_stop_words_duplicates_and_plurals() {
    assert_eq!(
        terms("What is an agent? Agents loop, and loops end."),
        vec!["agent", "loop", "end"]
    );
    assert!(terms("what is it").is_empty());
}

fn passage(path: &str, index: u32, text: &str) -> Passage {
    Passage {
        path: LessonPath::new_unchecked(path.to_string()),
        lesson_title: format!("Lesson {path}"),
        section_index: index,
        section_title: format!("Section {index}"),
        text: text.to_string(),
        snippet: String::new(),
        score: 1.0,
    }
}

#[test]
fn the_open_lessons_matching_sections_come_first_then_the_book() {
    let open = LessonPath::new_unchecked("a".to_string());
    let sections = [
        LessonSection {
            index: 0,
            title: "Intro",
            text: "Nothing relevant.",
        },
        LessonSection {
            index: 1,
            title: "Loops",
            text: "The agent loop repeats.",
        },
    ];
    let book = [
        passage("a", 1, "The agent loop repeats."),
        passage("b", 3, "Tools extend the agent loop."),
    ];
    let sources = select_sources(
        "what is the agent loop",
        &open,
        "A",
        &sections,
        &book,
        6_000,
    );
    let picked: Vec<(&str, u32, u32)> = sources
        .iter()
        .map(|s| (s.path.as_str(), s.section_index, s.number))
        .collect();
    assert_eq!(picked, vec![("a", 1, 1), ("b", 3, 2)]);
    assert_eq!(sources[0].lesson_title, "A");
    assert_eq!(sources[1].lesson_title, "Lesson b");
}

#[test]
fn nothing_matches_nothing_is_selected() {
    let open = LessonPath::new_unchecked("a".to_string());
    let sections = [LessonSection {
        index: 0,
        title: "Intro",
        text: "Agents act.",
    }];
    assert!(select_sources("capital of France", &open, "A", &sections, &[], 6_000).is_empty());
}

#[test]
fn sources_fit_the_budget_and_the_open_lesson_leaves_room_for_others() {
    let open = LessonPath::new_unchecked("a".to_string());
    let long = "The agent loop repeats its steps. ".repeat(200);
    let sections: Vec<LessonSection<'_>> = (0..3)
        .map(|i| LessonSection {
            index: i,
            title: "Loop",
            text: &long,
        })
        .collect();
    let book = [passage("b", 0, &long), passage("c", 0, &long)];
    let sources = select_sources("agent loop", &open, "A", &sections, &book, 3_000);
    let total: usize = sources.iter().map(|s| s.text.chars().count()).sum();
    assert!(total <= 3_000, "{total}");
    assert!(
        sources.iter().any(|s| s.path == "b"),
        "other lessons get a share"
    );
}

#[test]
fn a_long_passage_keeps_the_sentences_around_the_match() {
    let mut text = "Filler sentence about nothing. ".repeat(100);
    text.push_str("The planner chooses tools. ");
    text.push_str(&"More filler here. ".repeat(100));
    let focused = focus(&text, &terms("planner tools"), 300);
    assert!(focused.contains("The planner chooses tools."), "{focused}");
    assert!(focused.starts_with("… ") && focused.ends_with(" …"));
    assert!(focused.chars().count() <= 300 + 4);
}

#[test]
fn citations_name_each_source_once_at_its_first_place() {
    let open = LessonPath::new_unchecked("a".to_string());
    let book = [passage("b", 0, "x"), passage("c", 2, "y")];
    let sources = select_sources("x y", &open, "A", &[], &book, 6_000);
    let cited = citations(&sources, &[(2, 5), (1, 9), (2, 12), (7, 1)], 10);
    let got: Vec<(&str, Option<u32>)> = cited.iter().map(|c| (c.path.as_str(), c.index)).collect();
    assert_eq!(got, vec![("c", Some(5)), ("b", Some(9))]);
}
