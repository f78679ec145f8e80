//! Unit tests of the key layout and the stored form; the Redis behaviour is covered by the
//! contract tests in `tests/api/lesson_cache.rs`.

use super::*;

fn copy(markdown: &str) -> CachedLesson {
    CachedLesson {
        lesson: RawLesson {
            path: LessonPath::new_unchecked("01-Intro/01-hello"),
            markdown: markdown.into(),
        },
        fetched_at: 1_700_000_000,
        stale: true,
    }
}

#[test]
fn keys_of_a_book_share_one_hash_tag_naming_repository_and_branch() {
    assert_eq!(
        namespace("panaversity/book", "main"),
        "lesson:v2:{panaversity/book@main}"
    );
}

#[test]
fn braces_in_names_cannot_break_the_hash_tag() {
    assert_eq!(namespace("a}b", "{x"), "lesson:v2:{a_b@_x}");
}

#[test]
fn purge_channel_lives_in_the_namespace() {
    let cache = RedisLessonCache {
        client: Client::default(),
        namespace: namespace("r", "b"),
        health: None,
    };
    assert_eq!(cache.purge_channel(), "lesson:v2:{r@b}:purge");
}

#[test]
fn px_is_never_zero_and_never_overflows() {
    assert_eq!(px(Duration::ZERO), 1);
    assert_eq!(px(Duration::from_millis(1500)), 1500);
    assert_eq!(px(Duration::MAX), i64::MAX / 4);
}

#[test]
fn a_stored_copy_is_compact_json_without_the_path_or_stale_flag() {
    let json = encode(&copy("# Hi\n\"quoted\""), Duration::from_secs(10)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3, "{json}");
    assert!(!json.contains(": "), "compact: {json}");
    assert_eq!(value["markdown"], "# Hi\n\"quoted\"");
    assert_eq!(value["fetched_at"], 1_700_000_000);
}

#[test]
fn decode_round_trips_and_marks_a_copy_past_fresh_until_as_stale() {
    let original = copy("text with \\ and \u{e9}");
    let json = encode(&original, Duration::from_secs(10)).unwrap();
    let now = now_ms();
    let fresh = decode(&original.lesson.path, &json, now).unwrap();
    assert_eq!(
        fresh,
        CachedLesson {
            stale: false,
            ..original.clone()
        }
    );
    let later = decode(&original.lesson.path, &json, now + 11_000).unwrap();
    assert!(later.stale);
}

#[test]
fn an_unreadable_value_decodes_to_nothing() {
    let path = LessonPath::new_unchecked("a");
    assert_eq!(decode(&path, "not json", 0), None);
    assert_eq!(decode(&path, r#"{"markdown":"x"}"#, 0), None);
}
