//! Unit tests of the wire form of purges; delivery over Redis is covered in
//! `tests/api/lesson_cache.rs`.

use super::*;

fn paths(raw: &[&str]) -> Vec<LessonPath> {
    raw.iter().map(|p| LessonPath::new_unchecked(*p)).collect()
}

#[test]
fn a_purge_of_everything_is_sent_as_all_true() {
    assert_eq!(
        encode(&Invalidation::All).as_deref(),
        Some(r#"{"all":true}"#)
    );
}

#[test]
fn a_purge_of_paths_is_sent_as_a_compact_path_list() {
    let purge = Invalidation::Paths(paths(&["a/b", "c"]));
    assert_eq!(encode(&purge).as_deref(), Some(r#"{"paths":["a/b","c"]}"#));
}

#[test]
fn a_purge_of_no_paths_is_not_sent_at_all() {
    assert_eq!(encode(&Invalidation::Paths(vec![])), None);
}

#[test]
fn every_encoded_purge_decodes_to_itself() {
    for purge in [
        Invalidation::All,
        Invalidation::Paths(paths(&["x/y-1.2_z"])),
    ] {
        let wire = encode(&purge).unwrap();
        assert_eq!(decode(&wire).unwrap(), purge);
    }
}

#[test]
fn decode_ignores_unknown_fields_for_later_versions() {
    assert_eq!(
        decode(r#"{"paths":["a"],"origin":"replica-2"}"#).unwrap(),
        Invalidation::Paths(paths(&["a"]))
    );
}

#[test]
fn decode_refuses_messages_that_name_nothing_to_purge() {
    for bad in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"all":false}"#,
        r#"{"paths":[]}"#,
        r#"{"paths":"a"}"#,
        r#"{"paths":[1]}"#,
    ] {
        assert!(decode(bad).is_err(), "{bad:?} must be refused");
    }
}
