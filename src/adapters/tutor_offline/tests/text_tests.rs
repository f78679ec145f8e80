//! Tests of the offline tutor's text tools.

use super::super::flip::flip;
use super::super::{pieces, text};

#[test]
fn sentences_split_on_terminators_but_not_on_abbreviations_or_decimals() {
    let found = text::sentences("Use tools, e.g. search. Version 3.5 is out! Is it? Yes");

    assert_eq!(
        found,
        vec![
            "Use tools, e.g. search.",
            "Version 3.5 is out!",
            "Is it?",
            "Yes"
        ]
    );
}

#[test]
fn paragraphs_drop_code_headings_tables_and_link_targets() {
    let markdown = "## Title\n\nRead [the docs](https://x.org) now.\n![diagram](d.png)\n\n\
                    ```\ncode();\n```\n| a | b |\n- first item\n- **second** item\n> quoted";

    let found = text::paragraphs(markdown);

    assert_eq!(
        found,
        vec!["Read the docs now.", "first item", "second item", "quoted"]
    );
}

#[test]
fn windows_hold_at_most_three_sentences() {
    let sentences: Vec<String> = (0..7).map(|i| format!("Sentence {i}.")).collect();

    assert_eq!(text::windows(&sentences), vec![0..3, 3..6, 6..7]);
}

#[test]
fn truncate_words_cuts_on_a_word_boundary_with_an_ellipsis() {
    assert_eq!(text::truncate_words("one two three four", 12), "one two…");
    assert_eq!(text::truncate_words("short", 12), "short");
}

#[test]
fn flip_removes_or_inserts_a_negation() {
    assert_eq!(flip("Agents do not sleep."), "Agents do sleep.");
    assert_eq!(flip("Agents can call tools."), "Agents cannot call tools.");
    assert_eq!(flip("Always test first."), "Never test first.");
    assert_eq!(flip("Memory is short."), "Memory is not short.");
}

#[test]
fn flip_swaps_opposites_or_negates_the_whole_sentence() {
    assert_eq!(flip("Read it before coding."), "Read it after coding.");
    assert_eq!(flip("Agents plan."), "It is not true that agents plan.");
}

#[test]
fn best_overlap_picks_the_sentence_sharing_most_words() {
    let candidates = vec![
        "Tools have names.".to_string(),
        "Agents call tools by name.".to_string(),
    ];

    let (sentence, word) =
        text::best_overlap("how do agents call tools", &candidates).expect("an overlap");

    assert_eq!(sentence, "Agents call tools by name.");
    assert_eq!(word, "agent");
    assert_eq!(
        text::bold_word(sentence, &word),
        "**Agents** call tools by name."
    );
}

#[test]
fn pieces_keep_every_whitespace_character() {
    let text = "Hi  there,\n\n- one\tword ";

    let found = pieces(text);

    assert_eq!(found, vec!["Hi  ", "there,\n\n", "- ", "one\t", "word "]);
    assert_eq!(found.concat(), text);
}

#[test]
fn stable_hash_differs_with_its_input() {
    assert_ne!(
        text::stable_hash(&[b"a", b"b"]),
        text::stable_hash(&[b"ab"])
    );
    assert_eq!(text::stable_hash(&[b"x"]), text::stable_hash(&[b"x"]));
}
