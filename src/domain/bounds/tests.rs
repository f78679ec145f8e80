//! Unit tests of the shared bounds.

use super::*;
use serde_json::json;

#[test]
fn ids_of_the_service_and_of_the_protocol_examples_pass() {
    for id in [
        "thr_0193c0f1a2b34c5d8e9f0a1b2c3d4e5f",
        "msg_1",
        "thr_custom_1",
        "assistant-msg-1",
        &"a".repeat(MAX_ID_BYTES),
    ] {
        assert_eq!(check_id("thread_id", id), Ok(()), "{id}");
    }
}

#[test]
fn empty_long_or_odd_ids_are_refused_with_the_field_named() {
    for id in [
        "",
        &"a".repeat(MAX_ID_BYTES + 1),
        "thr 1",
        "../thr_1",
        "thr_1\n",
        "thr_é",
        "thr%2e",
    ] {
        let err = check_id("params.thread_id", id).unwrap_err();
        assert_eq!(err.code(), "invalid_id");
        assert!(err.to_string().starts_with("params.thread_id "), "{err}");
    }
}

#[test]
fn texts_are_counted_in_characters_not_bytes() {
    assert_eq!(check_text("t", &"é".repeat(10), 10), Ok(()));
    assert_eq!(
        check_text("t", &"é".repeat(11), 10),
        Err(BoundError::TooLong {
            field: "t".into(),
            max_chars: 10
        })
    );
    assert_eq!(check_text("t", "two\nlines", 100), Ok(()));
}

#[test]
fn labels_refuse_control_characters() {
    assert_eq!(check_label("group", "Concepts", 100), Ok(()));
    assert_eq!(
        check_label("group", "a\u{7}b", 100).unwrap_err().code(),
        "invalid_text"
    );
}

#[test]
fn json_is_measured_as_serialised_and_stops_at_the_limit() {
    let small = json!({"lesson": "01-intro", "n": 1});
    let exact = serde_json::to_vec(&small).unwrap().len();
    assert_eq!(json_size(&small, exact), Some(exact));
    assert_eq!(json_size(&small, exact - 1), None);
    assert_eq!(check_json("data", &small, exact), Ok(()));
    let huge = json!({"blob": "x".repeat(900 * 1024)});
    let err = check_json("data", &huge, MAX_TAG_DATA_BYTES).unwrap_err();
    assert_eq!(err.code(), "field_too_long");
    assert!(err.to_string().contains("4096 bytes"), "{err}");
}

#[test]
fn nul_is_refused_in_texts_and_inside_json() {
    let err = check_text("text", "a\0b", 10).unwrap_err();
    assert_eq!(err.code(), "invalid_text");
    assert!(err.to_string().contains("U+0000"), "{err}");
    assert!(check_label("title", "a\0", 10).is_err());
    let data = serde_json::json!({"k": ["ok", "x\u{0}"]});
    assert_eq!(
        check_json("data", &data, 1024).unwrap_err().code(),
        "invalid_text"
    );
    let key = serde_json::json!({"\u{0}": 1});
    assert!(check_json("data", &key, 1024).is_err());
    // A backslash followed by `u0000` is text, not NUL.
    assert!(check_text("text", "\\u0000", 10).is_ok());
    assert!(check_json("data", &serde_json::json!("\\u0000"), 1024).is_ok());
}
