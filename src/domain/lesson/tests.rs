//! Unit tests of lesson path validation and lesson excerpts.

use super::*;

#[test]
fn parse_accepts_and_normalises_valid_paths() {
    let cases = [
        (
            "01-Part/02-Chapter/03-lesson",
            "01-Part/02-Chapter/03-lesson",
        ),
        ("  01-Part/03-lesson \n", "01-Part/03-lesson"),
        ("docs/01-Part/03-lesson", "01-Part/03-lesson"),
        ("apps/learn-app/docs/01-Part/03-lesson", "01-Part/03-lesson"),
        (
            "apps/learn-app/docs/01-Part/03-lesson.md",
            "01-Part/03-lesson",
        ),
        ("01-Part/03-lesson.mdx", "01-Part/03-lesson"),
        ("docs/01-Part/03-lesson.md", "01-Part/03-lesson"),
        ("intro", "intro"),
        ("a_b/c.d/e-f", "a_b/c.d/e-f"),
        ("docs/docs/x", "docs/x"),
        ("lesson.md.mdx", "lesson.md"),
    ];
    for (raw, want) in cases {
        let path = LessonPath::parse(raw).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
        assert_eq!(path.as_str(), want, "for {raw:?}");
    }
}

#[test]
fn parse_refuses_unsafe_or_malformed_paths() {
    let too_long = "a".repeat(MAX_LESSON_PATH_CHARS + 1);
    let cases: [(&str, LessonPathError); 20] = [
        ("", LessonPathError::Empty),
        ("   ", LessonPathError::Empty),
        ("docs/", LessonPathError::Empty),
        ("docs/.md", LessonPathError::Empty),
        (too_long.as_str(), LessonPathError::TooLong),
        ("../secret", LessonPathError::ParentReference),
        ("a/../../etc/passwd", LessonPathError::ParentReference),
        ("a/..", LessonPathError::ParentReference),
        ("/etc/passwd", LessonPathError::Absolute),
        ("/docs/a", LessonPathError::Absolute),
        ("a\\b", LessonPathError::Backslash),
        ("a%2e%2e/b", LessonPathError::PercentEncoded),
        ("a\u{0}b", LessonPathError::ControlCharacter),
        ("a\tb", LessonPathError::ControlCharacter),
        ("a//b", LessonPathError::EmptySegment),
        ("a/", LessonPathError::TrailingSlash),
        ("a/.md", LessonPathError::TrailingSlash),
        ("a b", LessonPathError::InvalidCharacter(' ')),
        ("a?x=1", LessonPathError::InvalidCharacter('?')),
        ("leçon", LessonPathError::InvalidCharacter('ç')),
    ];
    for (raw, want) in cases {
        assert_eq!(LessonPath::parse(raw), Err(want), "for {raw:?}");
    }
}

#[test]
fn every_spelling_of_one_lesson_file_parses_to_one_canonical_path() {
    let spellings = [
        "01-Part/03-lesson",
        "01-Part/03-lesson.md",
        "01-Part/03-lesson.mdx",
        "01-Part/03-lesson/index",
        "01-Part/03-lesson/index.md",
        "01-Part/03-lesson/README",
        "01-Part/03-lesson/README.mdx",
        "01-Part/03-lesson/index/README",
        "01-Part/./03-lesson",
        "./01-Part/03-lesson/.",
        "docs/01-Part/./03-lesson/index.md",
    ];
    for raw in spellings {
        let path = LessonPath::parse(raw).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
        assert_eq!(path.as_str(), "01-Part/03-lesson", "for {raw:?}");
    }
}

#[test]
fn canonical_paths_parse_to_themselves() {
    for raw in [
        "index",
        "README",
        "01-Part/03-lesson",
        "a/index-of-terms",
        "a/readme",
        "a.b/c",
    ] {
        let path = LessonPath::parse(raw).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
        assert_eq!(path.as_str(), raw);
        assert_eq!(LessonPath::parse(path.as_str()).unwrap(), path);
    }
}

#[test]
fn a_path_of_only_dot_segments_is_empty() {
    assert_eq!(LessonPath::parse("."), Err(LessonPathError::Empty));
    assert_eq!(LessonPath::parse("./."), Err(LessonPathError::Empty));
}

#[test]
fn parse_accepts_a_path_of_exactly_the_maximum_length() {
    let longest = "a".repeat(MAX_LESSON_PATH_CHARS);
    assert!(LessonPath::parse(&longest).is_ok());
    assert!(LessonPath::parse(&format!("docs/{longest}.md")).is_ok());
}

#[test]
fn parse_error_messages_say_what_is_wrong() {
    let message = |raw: &str| LessonPath::parse(raw).map(|_| ()).unwrap_err().to_string();
    assert!(message("../x").contains(".."));
    assert!(message("a b").contains("' '"));
    assert!(message("/x").contains("relative"));
    assert!(message(&"a".repeat(400)).contains("300"));
}

#[test]
fn lesson_path_displays_as_its_normalised_text() {
    let path = LessonPath::parse("docs/01-Part/lesson.md").expect("valid path");
    assert_eq!(path.to_string(), "01-Part/lesson");
}

fn lesson_with_body(body: &str) -> ParsedLesson {
    ParsedLesson {
        path: LessonPath::new_unchecked("x"),
        title: "X".to_string(),
        body: body.to_string(),
        chunks: Vec::new(),
    }
}

#[test]
fn excerpt_returns_the_whole_body_when_it_is_shorter() {
    let lesson = lesson_with_body("short body");
    assert_eq!(lesson.excerpt(6_000), "short body");
    assert_eq!(lesson.excerpt(10), "short body");
}

#[test]
fn excerpt_cuts_on_a_char_boundary_counting_characters() {
    let lesson = lesson_with_body("héllo wörld 🦀🦀");
    assert_eq!(lesson.excerpt(2), "hé");
    assert_eq!(lesson.excerpt(13), "héllo wörld 🦀");
    assert_eq!(lesson.excerpt(0), "");
}
