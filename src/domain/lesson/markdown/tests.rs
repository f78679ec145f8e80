//! Unit and property tests of lesson markdown parsing.

use proptest::prelude::*;

use super::*;

fn path(p: &str) -> LessonPath {
    LessonPath::new_unchecked(p)
}

fn parse(markdown: &str) -> ParsedLesson {
    parse_lesson(&path("01-part/03-closures-and-traits"), markdown)
}

/// A paragraph of roughly `chars` characters without blank lines.
fn prose(word: &str, chars: usize) -> String {
    let mut text = String::new();
    while text.chars().count() < chars {
        text.push_str(word);
        text.push(' ');
    }
    text.trim_end().to_string()
}

fn titles(lesson: &ParsedLesson) -> Vec<&str> {
    lesson.chunks.iter().map(|c| c.title.as_str()).collect()
}

#[test]
fn front_matter_and_mdx_imports_are_removed() {
    let md = format!(
        "---\ntitle: \"Closures\"\nsidebar_position: 3\n---\nimport Tabs from '@theme/Tabs';\nimport '@site/style.css';\n\n# Closures\n\n{}\n",
        prose("intro", 300)
    );
    let lesson = parse(&md);
    assert!(!lesson.body.contains("sidebar_position"));
    assert!(!lesson.body.contains("import"));
    assert!(lesson.body.starts_with("# Closures"));
    assert_eq!(lesson.title, "Closures");
    assert_eq!(lesson.chunks.len(), 1);
    assert!(!lesson.chunks[0].text.contains("---"));
}

#[test]
fn import_lines_inside_code_fences_and_prose_about_imports_are_kept() {
    let md = format!(
        "## Modules\n\n```js\nimport x from 'y';\n```\n\nimport statements bring names from modules.\n\n{}",
        prose("more", 300)
    );
    let lesson = parse(&md);
    assert!(lesson.body.contains("import x from 'y';"));
    assert!(
        lesson
            .body
            .contains("import statements bring names from modules.")
    );
}

#[test]
fn an_unclosed_front_matter_is_kept_as_text() {
    let md = format!("---\ntitle: nope\n\n{}", prose("text", 250));
    let lesson = parse(&md);
    assert!(lesson.body.starts_with("---\ntitle: nope"));
    assert_eq!(lesson.title, "Closures And Traits");
}

#[test]
fn title_comes_from_front_matter_with_quotes_stripped() {
    assert_eq!(
        parse("---\ntitle: 'Single'\n---\n# Heading").title,
        "Single"
    );
    assert_eq!(parse("---\ntitle: Bare words\n---\n").title, "Bare words");
}

#[test]
fn title_falls_back_to_the_first_h1_outside_code() {
    let md = "```sh\n# not a title\n```\n\n# Real Title #\n\ntext";
    assert_eq!(parse(md).title, "Real Title");
    assert_eq!(
        parse("---\ntitle: \"\"\n---\n# From Heading").title,
        "From Heading"
    );
}

#[test]
fn title_falls_back_to_the_title_cased_path_without_number_prefix() {
    assert_eq!(parse("just text").title, "Closures And Traits");
    let cases = [
        ("a/b/07_http-basics", "Http Basics"),
        ("intro", "Intro"),
        ("01-Part/2.API-design", "API Design"),
        ("a/03", "03"),
        ("", "Lesson"),
    ];
    for (p, want) in cases {
        assert_eq!(parse_lesson(&path(p), "").title, want, "for {p:?}");
    }
}

#[test]
fn sections_split_at_h2_and_the_intro_takes_the_lesson_title() {
    let md = format!(
        "# Closures\n\n{}\n\n## Capturing\n\n{}\n\n## Traits ##\n\n{}\n",
        prose("intro", 250),
        prose("capture", 250),
        prose("traits", 250)
    );
    let lesson = parse(&md);
    assert_eq!(titles(&lesson), ["Closures", "Capturing", "Traits"]);
    let indices: Vec<u32> = lesson.chunks.iter().map(|c| c.index).collect();
    assert_eq!(indices, [0, 1, 2]);
    assert!(lesson.chunks[1].text.starts_with("## Capturing\n\ncapture"));
}

#[test]
fn an_intro_with_only_the_h1_heading_is_dropped() {
    let md = format!("# Closures\n\n\n## First\n\n{}", prose("first", 250));
    let lesson = parse(&md);
    assert_eq!(titles(&lesson), ["First"]);
    assert_eq!(lesson.chunks[0].index, 0);
}

#[test]
fn h2_inside_a_code_fence_does_not_split() {
    for fence in ["```", "~~~", "````"] {
        let md = format!(
            "## Real\n\n{}\n\n{fence}markdown\n## Not a heading\n``\n~~~~~ x\n{fence}\n\n{}",
            prose("real", 250),
            prose("after", 250)
        );
        let lesson = parse(&md);
        assert_eq!(titles(&lesson), ["Real"], "fence {fence}");
        assert!(lesson.chunks[0].text.contains("## Not a heading"));
    }
}

#[test]
fn a_fence_closes_only_with_the_same_char_and_at_least_its_length() {
    let md = format!(
        "## A\n\n{}\n\n````\n```\n~~~~\n## Inside\n````\n\n## B\n\n{}",
        prose("a", 250),
        prose("b", 250)
    );
    assert_eq!(titles(&parse(&md)), ["A", "B"]);
}

#[test]
fn a_small_chunk_is_merged_into_the_previous_one() {
    let md = format!(
        "## Big\n\n{}\n\n## Tiny\n\nshort\n\n## Other\n\n{}",
        prose("big", 300),
        prose("other", 300)
    );
    let lesson = parse(&md);
    assert_eq!(titles(&lesson), ["Big", "Other"]);
    assert!(lesson.chunks[0].text.ends_with("## Tiny\n\nshort"));
    assert_eq!(lesson.chunks[1].index, 1);
}

#[test]
fn a_small_first_chunk_is_merged_into_the_next_one() {
    let md = format!("Welcome!\n\n## Setup\n\n{}", prose("setup", 300));
    let lesson = parse(&md);
    assert_eq!(lesson.chunks.len(), 1);
    assert_eq!(lesson.chunks[0].title, "Closures And Traits");
    assert!(lesson.chunks[0].text.starts_with("Welcome!\n\n## Setup"));
}

#[test]
fn a_lesson_shorter_than_one_chunk_gives_one_chunk() {
    let lesson = parse("# Tiny\n\nOne line.\n\n## Two\n\nAnother.");
    assert_eq!(lesson.chunks.len(), 1);
    assert!(lesson.chunks[0].text.contains("Another."));
}

#[test]
fn a_huge_chunk_is_split_at_paragraph_boundaries() {
    let paragraphs: Vec<String> = (0..10).map(|i| prose(&format!("p{i}"), 900)).collect();
    let md = format!("## Long\n\n{}", paragraphs.join("\n\n"));
    let lesson = parse(&md);
    assert!(lesson.chunks.len() >= 3);
    assert_eq!(lesson.chunks[0].title, "Long");
    assert_eq!(lesson.chunks[1].title, "Long (part 2)");
    assert_eq!(lesson.chunks[2].title, "Long (part 3)");
    for chunk in &lesson.chunks {
        assert!(chunk.text.chars().count() <= MAX_CHUNK_CHARS);
    }
    for paragraph in &paragraphs {
        let holders = lesson
            .chunks
            .iter()
            .filter(|c| c.text.contains(paragraph.as_str()));
        assert_eq!(
            holders.count(),
            1,
            "each paragraph stays whole in one chunk"
        );
    }
}

#[test]
fn a_huge_chunk_is_never_split_inside_a_code_fence() {
    let code: Vec<String> = (0..6)
        .map(|i| prose(&format!("let x{i} = {i};"), 900))
        .collect();
    let fenced = format!("```rust\n{}\n```", code.join("\n\n"));
    let md = format!(
        "## Code\n\n{}\n\n{fenced}\n\n{}",
        prose("before", 900),
        prose("after", 900)
    );
    let lesson = parse(&md);
    let holders: Vec<&LessonChunk> = lesson
        .chunks
        .iter()
        .filter(|c| c.text.contains(fenced.as_str()))
        .collect();
    assert_eq!(holders.len(), 1, "the fenced block stays whole");
    assert!(holders[0].text.chars().count() > MAX_CHUNK_CHARS);
    assert!(lesson.chunks.len() >= 2);
}

#[test]
fn a_lesson_without_text_gives_zero_chunks() {
    for md in [
        "",
        "\n\n  \n",
        "---\ntitle: Empty\n---\n",
        "# Only a title\n",
        "import A from 'a';",
    ] {
        assert!(parse(md).chunks.is_empty(), "for {md:?}");
    }
}

#[test]
fn unicode_text_is_measured_in_characters_and_never_cut_mid_char() {
    let md = format!(
        "# Ünïcödé 🦀\n\n{}\n\n## Çà\n\n{}",
        prose("日本語🦀", 2_500),
        prose("ß€", 4_500)
    );
    let lesson = parse(&md);
    assert_eq!(lesson.title, "Ünïcödé 🦀");
    assert_eq!(lesson.chunks[0].title, "Ünïcödé 🦀");
    assert_eq!(lesson.chunks[1].title, "Çà");
    assert_eq!(lesson.excerpt(3), "# Ü");
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_are_understood() {
    let md = format!(
        "\u{feff}---\r\ntitle: Windows\r\n---\r\n## One\r\n\r\n{}\r\n",
        prose("one", 250)
    );
    let lesson = parse(&md);
    assert_eq!(lesson.title, "Windows");
    assert_eq!(titles(&lesson), ["One"]);
    assert!(!lesson.body.contains('\r'));
}

/// Lines a generated lesson is made of: headings, fences, imports, front matter and prose.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Zé日🦀 ,.]{0,120}",
        1 => "## [a-zA-Z ü]{0,12}".prop_map(String::from),
        1 => "# [a-zA-Z ]{0,12}".prop_map(String::from),
        1 => prop_oneof![Just("```"), Just("````"), Just("~~~"), Just("```rust")].prop_map(String::from),
        1 => Just(String::new()),
        1 => Just("---".to_string()),
        1 => Just("import A from 'a';".to_string()),
        1 => "[a-z]{1,8}: [a-z]{0,8}".prop_map(String::from),
    ]
}

/// Lines `parse_lesson` must keep: not front matter, not an import, not blank, not an H1
/// (a dropped title-only intro loses its H1 line on purpose).
fn required_lines(markdown: &str) -> Vec<&str> {
    let lines: Vec<&str> = markdown.lines().collect();
    let content = match lines.first() {
        Some(&"---") => match lines.iter().skip(1).position(|l| *l == "---") {
            Some(end) => &lines[end + 2..],
            None => &lines[..],
        },
        _ => &lines[..],
    };
    content
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("import ") && !l.starts_with("# "))
        .collect()
}

proptest! {
    #[test]
    fn parse_lesson_never_panics_on_arbitrary_text(text in "\\PC*") {
        let lesson = parse(&text);
        prop_assert!(lesson.chunks.iter().enumerate().all(|(i, c)| c.index as usize == i));
    }

    #[test]
    fn chunks_keep_every_line_that_is_not_front_matter_or_an_import(
        lines in proptest::collection::vec(line(), 0..80)
    ) {
        let markdown = lines.join("\n");
        let lesson = parse(&markdown);
        let all = lesson.chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\n");
        for line in required_lines(&markdown) {
            prop_assert!(all.contains(line), "lost line {:?}", line);
        }
        for (i, chunk) in lesson.chunks.iter().enumerate() {
            prop_assert_eq!(chunk.index as usize, i);
            prop_assert!(!chunk.text.trim().is_empty());
        }
    }
}
