//! Pass: every bound the server enforces on a client value, stated in the schema, so a
//! generator validates it and a fuzzer knows what is accepted. The numbers are the server's
//! own constants; the patterns restate the checks in `domain::bounds`, `domain::lesson`,
//! `domain::cursor` and `domain::tutor`.

use serde_yaml::{Mapping, Value};

use crate::app::search::MAX_RESULTS;
use crate::app::study::{
    MAX_MESSAGE_CHARS, MAX_SELECTED_CHARS, MAX_TITLE_CHARS, MAX_USER_NAME_CHARS,
};
use crate::domain::bounds::{ID_PATTERN, MAX_ID_BYTES, white_space_chars};
use crate::domain::cursor::{CURSOR_PATTERN, MAX_CURSOR_2_CHARS};
use crate::domain::lesson::MAX_LESSON_PATH_CHARS;
use crate::domain::search::MAX_QUERY_CHARS;
use crate::domain::thread::{MAX_PAGE_SIZE, TEXT_PATTERN, TITLE_PATTERN};
use crate::http::admin::MAX_PURGE_PATHS;
use crate::http::error::ERROR_CODES;

/// A bound on one value.
#[derive(Clone, Copy)]
enum Bound {
    /// `min_length..=max_length` characters matching `pattern` (when set).
    Text(usize, usize, Option<&'static str>),
    /// An integer `min..=max`.
    Integer(u32, u32),
}

/// `[…]` of Unicode `White_Space`, what the server trims.
macro_rules! ws {
    () => {
        concat!("[", white_space_chars!(), "]")
    };
}
/// Segments of `A-Z a-z 0-9 . _ -` (each with at least one that is not a dot), separated by
/// single slashes.
macro_rules! segments {
    () => {
        "[.]*[A-Za-z0-9_-][A-Za-z0-9._-]*(/[.]*[A-Za-z0-9_-][A-Za-z0-9._-]*)*"
    };
}
/// A lesson path: [`segments!`], no `..`, no leading or trailing slash; white space around it
/// is trimmed.
const LESSON_PATH: &str = concat!("^(?![\\s\\S]*\\.\\.)", ws!(), "*", segments!(), ws!(), "*$");
/// The same, or only white space (`/chatkit` reads a blank `lesson_path` as none).
const LESSON_PATH_OR_BLANK: &str = concat!(
    "^(?![\\s\\S]*\\.\\.)",
    ws!(),
    "*(",
    segments!(),
    ws!(),
    "*)?$"
);
/// A message: no NUL, and at least one character that is not white space.
const NOT_BLANK: &str = concat!("^[^\\x00]*[^\\x00", white_space_chars!(), "][^\\x00]*$");
/// Unicode `White_Space`: what Rust's `trim` removes.
const WS: &str = ws!();
const JOB_ID: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
/// Name characters that are not letters (spaces, punctuation, combining marks).
const NAME_NON_LETTERS: &str = "[ '\\u2019.\\u002D\\u0300-\\u036F\\u1AB0-\\u1AFF\\u1DC0-\\u1DFF]";

/// `[…]` of every character of the Basic Multilingual Plane that `domain::tutor::is_name_char`
/// accepts, as `\uXXXX` ranges: ECMA-262 (no `u` flag needed) and Python `re` read it the
/// same, unlike `\p{L}`, which Python `re` rejects (generated Python clients crash on it).
fn name_class() -> String {
    let mut class = String::from("[");
    let mut run: Option<(u32, u32)> = None;
    let close = |class: &mut String, (from, to): (u32, u32)| {
        class.push_str(&format!("\\u{from:04X}"));
        if to > from {
            class.push_str(&format!("-\\u{to:04X}"));
        }
    };
    for code in 0..=0xFFFF_u32 {
        let ok = char::from_u32(code).is_some_and(crate::domain::tutor::is_name_char);
        run = match (ok, run) {
            (true, Some((from, to))) if to + 1 == code => Some((from, code)),
            (true, Some(done)) => {
                close(&mut class, done);
                Some((code, code))
            }
            (true, None) => Some((code, code)),
            (false, Some(done)) => {
                close(&mut class, done);
                None
            }
            (false, None) => None,
        };
    }
    if let Some(done) = run {
        close(&mut class, done);
    }
    class.push(']');
    class
}

/// A student's name: [`name_class`] characters, not only non-letters; white space around it is
/// trimmed, and a blank one is the same as none. (Letters outside the BMP, which the server
/// also accepts, are left out: the pattern would need surrogate pairs.)
static NAME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "^{WS}*((?!{NAME_NON_LETTERS}*{WS}*$){}+{WS}*)?$",
        name_class()
    )
});

fn bounds() -> Vec<(&'static str, &'static str, Bound)> {
    use Bound::{Integer, Text};
    let lesson = Text(1, MAX_LESSON_PATH_CHARS, Some(LESSON_PATH));
    let selected = Text(0, MAX_SELECTED_CHARS, Some(TEXT_PATTERN));
    let name = Text(0, MAX_USER_NAME_CHARS, Some(NAME.as_str()));
    vec![
        // Parameters of one operation, then by name (wherever the name appears).
        (
            "chatkit",
            "lesson_path",
            Text(0, MAX_LESSON_PATH_CHARS, Some(LESSON_PATH_OR_BLANK)),
        ),
        (
            "param",
            "thread_id",
            Text(1, MAX_ID_BYTES, Some(ID_PATTERN)),
        ),
        ("param", "item_id", Text(1, MAX_ID_BYTES, Some(ID_PATTERN))),
        ("searchBook", "q", Text(1, MAX_QUERY_CHARS, None)),
        ("searchBook", "limit", Integer(1, MAX_RESULTS)),
        ("param", "limit", Integer(1, MAX_PAGE_SIZE)),
        // A cursor as the server issues them; the older forms it still reads are left out,
        // as not every string of their shape is one it reads.
        (
            "param",
            "after",
            Text(13, MAX_CURSOR_2_CHARS, Some(CURSOR_PATTERN)),
        ),
        ("param", "lesson_path", lesson),
        // A job id as `POST /admin/book/sync` issues them (any other text is no job: 404).
        ("param", "id", Text(36, 36, Some(JOB_ID))),
        ("param", "path", lesson),
        ("param", "selected_text", selected),
        ("param", "user_name", name),
        // Request bodies, by schema and property.
        ("CreateThreadIn", "lesson_path", lesson),
        (
            "RenameIn",
            "title",
            Text(1, MAX_TITLE_CHARS, Some(TITLE_PATTERN)),
        ),
        (
            "MessageIn",
            "text",
            Text(1, MAX_MESSAGE_CHARS, Some(NOT_BLANK)),
        ),
        ("MessageIn", "selected_text", selected),
        ("MessageIn", "user_name", name),
    ]
}

/// Descriptions of parameters poem-openapi leaves bare (path parameters and typed queries).
const PARAMETER_TEXTS: &[(&str, &str)] = &[
    (
        "thread_id",
        "The thread's id (`thr_…`), as returned when it was created.",
    ),
    (
        "item_id",
        "The message's id (`msg_…`), as listed by `listItems`.",
    ),
    ("limit", "Page size: 1 to 100, 20 when left out."),
    (
        "order",
        "Order of creation: `desc` (newest first, the default) or `asc`.",
    ),
];

/// Text fields of answers that only ever hold one of a few constants.
const CLOSED: &[(&str, &str, &[&str])] = &[
    ("Liveness", "status", &["ok"]),
    ("PurgeOut", "status", &["ok"]),
    ("SearchOut", "mode", &["full_text", "hybrid"]),
];

fn write(schema: &mut Mapping, bound: Bound) {
    match bound {
        Bound::Text(min, max, pattern) => {
            schema.insert("minLength".into(), Value::from(min as u64));
            schema.insert("maxLength".into(), Value::from(max as u64));
            if let Some(pattern) = pattern {
                schema.insert("pattern".into(), pattern.into());
            }
        }
        Bound::Integer(min, max) => {
            schema.remove("format");
            schema.insert("format".into(), "int32".into());
            schema.insert("minimum".into(), Value::from(min));
            schema.insert("maximum".into(), Value::from(max));
        }
    }
}

/// The purge body: at most [`MAX_PURGE_PATHS`] lesson paths.
fn purge_body(operation: &mut Value) {
    let Some(Value::Mapping(schema)) = operation
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(|c| c.get_mut(super::shape::JSON))
        .and_then(|m| m.get_mut("schema"))
    else {
        return;
    };
    schema.insert("maxItems".into(), Value::from(MAX_PURGE_PATHS as u64));
    if let Some(Value::Mapping(items)) = schema.get_mut("items") {
        write(
            items,
            Bound::Text(1, MAX_LESSON_PATH_CHARS, Some(LESSON_PATH)),
        );
    }
}

/// States every bound in `doc`, and the closed set of error codes.
pub fn apply(doc: &mut Value) {
    let bounds = bounds();
    if let Some(Value::Mapping(paths)) = doc.get_mut("paths") {
        for (_, item) in paths.iter_mut() {
            let Value::Mapping(item) = item else { continue };
            for (_, operation) in item.iter_mut() {
                let id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if id == "invalidateLessonCache" {
                    purge_body(operation);
                }
                let Some(Value::Sequence(params)) = operation.get_mut("parameters") else {
                    continue;
                };
                for param in params {
                    let name = param.get("name").and_then(Value::as_str).map(str::to_owned);
                    let text = PARAMETER_TEXTS
                        .iter()
                        .find(|(n, _)| Some(*n) == name.as_deref());
                    if let (Some((_, text)), Value::Mapping(param)) = (text, &mut *param)
                        && !param.contains_key("description")
                    {
                        param.insert("description".into(), (*text).into());
                    }
                    let found = [id.as_str(), "param"].into_iter().find_map(|on| {
                        bounds
                            .iter()
                            .find(|(o, f, _)| *o == on && Some(*f) == name.as_deref())
                    });
                    if let (Some((_, _, bound)), Some(Value::Mapping(schema))) =
                        (found, param.get_mut("schema"))
                    {
                        write(schema, *bound);
                    }
                }
            }
        }
    }
    let Some(Value::Mapping(schemas)) =
        doc.get_mut("components").and_then(|c| c.get_mut("schemas"))
    else {
        return;
    };
    for (on, field, bound) in &bounds {
        if let Some(Value::Mapping(schema)) = schemas
            .get_mut(*on)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*field))
        {
            write(schema, *bound);
        }
    }
    if let Some(Value::Mapping(paths)) = schemas
        .get_mut("SyncIn")
        .and_then(|s| s.get_mut("properties"))
        .and_then(|p| p.get_mut("paths"))
    {
        paths.insert(
            "maxItems".into(),
            Value::from(crate::domain::sync::MAX_SYNC_PATHS as u64),
        );
        if let Some(Value::Mapping(items)) = paths.get_mut("items") {
            write(
                items,
                Bound::Text(1, MAX_LESSON_PATH_CHARS, Some(LESSON_PATH)),
            );
        }
    }
    let closed = CLOSED
        .iter()
        .copied()
        .chain([("ErrorDetail", "code", ERROR_CODES)]);
    for (on, field, values) in closed {
        if let Some(Value::Mapping(schema)) = schemas
            .get_mut(on)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
        {
            let values = values.iter().map(|v| Value::from(*v)).collect();
            schema.insert("enum".into(), Value::Sequence(values));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        // The `regex` crate has no look-ahead: LESSON_PATH's (no `..`) is checked by hand.
        let re = |p: &str| regex::Regex::new(p).unwrap();
        match pattern.strip_prefix("^(?![\\s\\S]*\\.\\.)") {
            Some(rest) => !text.contains("..") && re(&format!("^{rest}")).is_match(text),
            None => re(pattern).is_match(text),
        }
    }

    #[test]
    fn the_lesson_path_pattern_accepts_what_the_server_accepts() {
        let parse = crate::domain::lesson::LessonPath::parse;
        for ok in [
            "01-Part/02-Chapter/03-lesson",
            "a",
            "a.md",
            ".well/x",
            " a\u{a0}",
        ] {
            assert!(matches(LESSON_PATH, ok), "{ok:?}");
            assert!(matches(LESSON_PATH_OR_BLANK, ok), "{ok:?}");
            assert!(parse(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", " ", "/a", "a/", "a//b", "a b", ".", "%41", "a/../b"] {
            assert!(!matches(LESSON_PATH, bad), "{bad:?}");
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches(LESSON_PATH_OR_BLANK, ""));
        assert!(matches(LESSON_PATH_OR_BLANK, " \t"));
        assert!(!matches(LESSON_PATH_OR_BLANK, "a/../b"));
        assert!(
            !matches(LESSON_PATH, "\na/../b"),
            "the look-ahead crosses lines"
        );
    }

    #[test]
    fn the_name_class_is_exactly_the_servers_name_characters_of_the_bmp() {
        let class = regex::Regex::new(&format!("^{}$", name_class())).unwrap();
        for code in (0..=0xFFFF_u32)
            .step_by(7)
            .chain([0x20, 0x27, 0x2D, 0x2E, 0x2019])
        {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            assert_eq!(
                class.is_match(&c.to_string()),
                crate::domain::tutor::is_name_char(c),
                "U+{code:04X}"
            );
        }
        assert!(!NAME.contains("\\p{"), "no Unicode property escapes");
    }

    #[test]
    fn the_name_pattern_follows_is_student_name() {
        // The `regex` crate has no look-ahead: "not only non-letters" is checked by hand.
        let lookahead = format!("(?!{NAME_NON_LETTERS}*{WS}*$)");
        let body = regex::Regex::new(&NAME.replace(&lookahead, "")).unwrap();
        let only_non_letters =
            regex::Regex::new(&format!("^{WS}*{NAME_NON_LETTERS}+{WS}*$")).unwrap();
        let pattern = |name: &str| {
            body.is_match(name) && (name.trim().is_empty() || !only_non_letters.is_match(name))
        };
        let accepted = |name: &str| {
            let name = name.trim();
            name.is_empty() || crate::domain::tutor::is_student_name(name)
        };
        let ok = [
            "Ada",
            "José María",
            "O'Brien",
            "Zoë-Ann",
            "李雷",
            " Ada\t",
            "",
            "  ",
        ];
        for ok in ok.into_iter().chain(["A\u{345}\u{352}\u{36d}"]) {
            assert!(pattern(ok), "{ok:?}");
            assert!(accepted(ok), "{ok:?}");
        }
        for bad in [
            "R2D2",
            "a_b",
            "a\u{1F600}",
            "a\u{20d0}",
            "- .",
            "Ada\tLovelace",
        ] {
            assert!(!pattern(bad), "{bad:?}");
            assert!(!accepted(bad), "{bad:?}");
        }
    }

    #[test]
    fn titles_and_messages_need_a_character_the_server_does_not_trim() {
        assert!(matches(TITLE_PATTERN, "Loops, part 2"));
        assert!(!matches(TITLE_PATTERN, "a\tb"));
        assert!(matches(NOT_BLANK, "\u{a0} x"));
        assert!(!matches(NOT_BLANK, "x\u{0}"));
        assert!(!matches(TEXT_PATTERN, "x\u{0}"));
        for blank in [" ", "\u{a0}", "\u{3000}\u{2028}", "\u{85}"] {
            assert!(blank.trim().is_empty());
            assert!(!matches(TITLE_PATTERN, blank), "{blank:?}");
            assert!(!matches(NOT_BLANK, blank), "{blank:?}");
        }
    }
}
