use super::*;

fn words(raw: &str) -> Vec<String> {
    query_words(raw)
}

#[test]
fn a_question_keeps_its_telling_words_lowercased_without_stop_words_or_repeats() {
    assert_eq!(
        words("What does the Agent loop do? The LOOP!"),
        ["agent", "loop"]
    );
    assert_eq!(words("l'été 2024"), ["l", "été", "2024"]);
    assert!(words("what is it?").is_empty(), "only stop words");
    assert!(words(r#" "*:-^()' "#).is_empty());
}

#[test]
fn query_syntax_is_reduced_to_plain_words() {
    assert_eq!(
        words(r#" "ownership" OR borrow* -lifetimes title:traits (x NEAR y) a&b|c!d "#),
        [
            "ownership",
            "borrow",
            "lifetimes",
            "title",
            "traits",
            "x",
            "near",
            "y",
            "b",
            "c",
            "d"
        ]
    );
}

#[test]
fn a_question_is_bounded_in_characters_words_and_word_length() {
    let many: String = (0..100).map(|i| format!("w{i} ")).collect();
    assert_eq!(words(&many).len(), MAX_QUERY_WORDS);
    let long = format!("{} tail", "x".repeat(300));
    assert_eq!(words(&long), ["x".repeat(MAX_WORD_CHARS)]);
    let late = format!("{} late", " ".repeat(MAX_QUERY_CHARS));
    assert!(words(&late).is_empty(), "past the character bound");
}

#[test]
fn the_stop_word_list_is_sorted_for_its_binary_search() {
    assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    assert!(is_stop_word("the") && !is_stop_word("agent"));
}

#[test]
fn stemming_drops_a_plural_ending_only() {
    assert_eq!(stem("Loops"), "loop");
    assert_eq!(stem("classes"), "class");
    assert_eq!(stem("libraries"), "library");
    assert_eq!(stem("boxes"), "box");
    assert_eq!(stem("class"), "class");
    assert_eq!(stem("status"), "status");
    assert_eq!(stem("is"), "is");
}

#[test]
fn cosine_is_one_for_the_same_direction_and_none_when_undefined() {
    let same = cosine(&[1.0, 2.0], &[2.0, 4.0]).unwrap();
    assert!((same - 1.0).abs() < 1e-9);
    assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap().abs() < 1e-9);
    assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]).unwrap() + 1.0).abs() < 1e-9);
    assert_eq!(cosine(&[1.0], &[1.0, 2.0]), None);
    assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), None);
    assert_eq!(cosine(&[], &[]), None);
}

#[test]
fn rrf_rewards_items_ranked_well_in_both_lists() {
    let text = ["a", "b", "c"];
    let vector = ["c", "d", "a"];
    let fused = reciprocal_rank_fusion(&[&text, &vector], RRF_K);
    let order: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
    assert_eq!(order, ["a", "c", "b", "d"]);
    let a = 1.0 / 61.0 + 1.0 / 63.0;
    assert!((fused[0].1 - a).abs() < 1e-12);
    assert!((fused[2].1 - 1.0 / 62.0).abs() < 1e-12);
}

#[test]
fn rrf_of_one_list_keeps_its_order_and_ties_keep_first_appearance() {
    let fused = reciprocal_rank_fusion(&[&["x", "y", "z"][..]], RRF_K);
    let order: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
    assert_eq!(order, ["x", "y", "z"]);
    let tied = reciprocal_rank_fusion(&[&["p"][..], &["q"][..]], RRF_K);
    assert_eq!(tied[0].0, "p");
    assert_eq!(tied[0].1, tied[1].1);
    assert!(reciprocal_rank_fusion::<&str>(&[], RRF_K).is_empty());
}

#[test]
fn plain_text_drops_markdown_syntax() {
    let md = "## The *agent* loop\n\n> Note: see [the docs](https://x.io/a_b) and \
              ![a diagram](d.png).\n\n- one `step`\n1. two __bold__\n\n```rust\nlet snake_case = 1;\n```\n\
              | a | b |\n|---|---|\n<div class=\"x\">html</div> ~~old~~";
    assert_eq!(
        plain_text(md),
        "The agent loop Note: see the docs and a diagram. one step two bold let snake_case = 1; \
         a b html old"
    );
}

#[test]
fn a_short_text_is_whole_with_its_matches_marked() {
    let s = snippet(
        "The **agent loop** observes, then Agents act.",
        &words("agent loops"),
    );
    assert_eq!(
        s,
        "The <mark>agent</mark> <mark>loop</mark> observes, then <mark>Agents</mark> act."
    );
}

#[test]
fn only_whole_words_are_marked() {
    let s = snippet("An agentic reagent is no agent.", &words("agent"));
    assert_eq!(s, "An agentic reagent is no <mark>agent</mark>.");
}

#[test]
fn the_snippet_is_html_escaped() {
    let s = snippet(
        "Use <script>alert(1)</script> & \"quotes\" with 'care' and a < b",
        &words("care"),
    );
    assert!(!s.contains("<script"), "{s}");
    assert!(
        s.contains("&amp; &quot;quotes&quot; with &#39;<mark>care</mark>&#39;"),
        "{s}"
    );
    assert!(s.ends_with("a &lt; b"), "{s}");
}

#[test]
fn a_long_text_is_cut_around_the_densest_matches_with_ellipses() {
    let filler = "Some words that say little at all. ".repeat(20);
    let text = format!(
        "{filler}The loop alone. {filler}Here the agent runs its loop until done. {filler}"
    );
    let s = snippet(&text, &words("agent loop"));
    let visible = s.replace("<mark>", "").replace("</mark>", "");
    assert!(visible.starts_with('…') && visible.ends_with('…'), "{s}");
    assert!(visible.chars().count() <= MAX_SNIPPET_CHARS + 2, "{s}");
    assert!(
        s.contains("<mark>agent</mark> runs its <mark>loop</mark>"),
        "the window with both words: {s}"
    );
    let inner = visible.trim_matches('…');
    assert!(
        text.contains(inner),
        "cut at word boundaries, nothing half: {inner:?}"
    );
}

#[test]
fn without_a_match_the_snippet_is_the_beginning() {
    let text = "First sentence here. ".repeat(30);
    let s = snippet(&text, &words("zebra"));
    assert!(s.starts_with("First sentence here."), "{s}");
    assert!(s.ends_with('…') && !s.contains("<mark>"), "{s}");
    assert!(s.chars().count() <= MAX_SNIPPET_CHARS + 1);
    assert_eq!(snippet("", &words("x")), "");
}

#[test]
fn a_giant_word_does_not_break_the_window() {
    let text = format!("{} agent", "x".repeat(1_000));
    let s = snippet(&text, &words("agent"));
    assert!(s.chars().count() <= MAX_SNIPPET_CHARS + 2, "{s}");
    assert!(s.contains("<mark>agent</mark>"), "{s}");
}
