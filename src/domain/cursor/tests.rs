//! Unit tests of the opaque page cursor.

use super::*;

fn position(created_at: i64, id: &str) -> After {
    After::Position(Position {
        created_at,
        id: id.to_string(),
    })
}

#[test]
fn a_cursor_reads_back_as_the_position_it_was_made_from() {
    let longest = "a".repeat(MAX_ID_BYTES);
    for (created_at, id) in [
        (
            1_733_231_400_123_456,
            "thr_0193c0f1a2b34c5d8e9f0a1b2c3d4e5f",
        ),
        (0, "m"),
        (1, "ms"),
        (-1, "msg-1"),
        (MAX_MICROS, longest.as_str()),
        (-MAX_MICROS, longest.as_str()),
    ] {
        let cursor = encode(created_at, id);
        assert!(cursor.len() <= MAX_CURSOR_CHARS, "{cursor}");
        if (0..=MAX_TIME_2).contains(&created_at) {
            assert!(cursor.starts_with("c2.") && cursor.len() <= MAX_CURSOR_2_CHARS);
        }
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "URL-safe: {cursor}"
        );
        assert_eq!(parse("after", &cursor), Ok(position(created_at, id)));
    }
}

#[test]
fn every_string_of_the_pattern_is_a_cursor_the_server_reads() {
    let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
    let shortest = format!("c2.{}", "A".repeat(TIME_CHARS + 1));
    let longest = format!("c2.{}", "_".repeat(TIME_CHARS + MAX_ID_BYTES));
    for cursor in [
        shortest.as_str(),
        longest.as_str(),
        "c2.0123456789",
        "c2.-_-_-_-_-_-_",
    ] {
        assert!(pattern.is_match(cursor), "{cursor}");
        let After::Position(position) = parse("after", cursor).expect(cursor) else {
            panic!("{cursor} is a position");
        };
        // And it is the cursor of the position it names: one spelling per position.
        assert_eq!(encode(position.created_at, &position.id), cursor);
    }
    assert_eq!(longest.len(), MAX_CURSOR_2_CHARS);
    for outside in [
        "c2.",
        "c2.AAAAAAAAA",
        &format!("{longest}A"),
        "c2.AAAAAAAAA!",
    ] {
        assert!(!pattern.is_match(outside), "{outside}");
        assert!(parse("after", outside).is_err(), "{outside}");
    }
}

#[test]
fn the_longest_cursor_is_the_documented_119_characters() {
    assert_eq!(MAX_CURSOR_CHARS, 119);
    assert_eq!(
        encode(-MAX_MICROS, &"a".repeat(MAX_ID_BYTES)).len(),
        3 + 112
    );
}

#[test]
fn a_cursor_is_opaque_and_never_a_valid_id() {
    let cursor = encode(1_733_231_400_123_456, "thr_1");
    assert!(!cursor.contains("thr_1"), "{cursor}");
    assert!(!cursor.contains("thr"), "{cursor}");
    assert!(check_id("after", &cursor).is_err());
}

#[test]
fn a_plain_id_is_still_accepted_as_the_older_form() {
    assert_eq!(
        parse("after", "thr_0193c0f1"),
        Ok(After::Id("thr_0193c0f1".into()))
    );
    assert_eq!(parse("after", "c1"), Ok(After::Id("c1".into())));
}

#[test]
fn garbage_is_refused_with_the_field_named() {
    let b64 = |s: &str| format!("c1.{}", URL_SAFE_NO_PAD.encode(s.as_bytes()));
    let cases = [
        String::new(),
        "../x".into(),
        "t".repeat(10_000),
        "c1.".into(),
        "c1.!!!!".into(),
        "c1.a".into(),                                       // impossible base64 length
        "c1.MB".into(),                                      // non-zero trailing bits
        "c2.MC54".into(),                                    // unknown version
        format!("c1.{}", "A".repeat(MAX_CURSOR_CHARS)),      // too long
        b64("0"),                                            // no id
        b64("0."),                                           // empty id
        b64(".x"),                                           // no number
        b64("-.x"),                                          // sign only
        b64("+1.x"),                                         // explicit plus
        b64("1e3.x"),                                        // not decimal
        b64(" 1.x"),                                         // space
        b64("253402300800000000.x"),                         // after year 9999
        b64("-253402300800000000.x"),                        // before year 1
        b64("99999999999999999999.x"),                       // overflows i64
        b64("1.x y"),                                        // bad id character
        b64("1.x.y"),                                        // dot in the id
        b64(&format!("1.{}", "a".repeat(MAX_ID_BYTES + 1))), // long id
        format!("c1.{}", URL_SAFE_NO_PAD.encode([b'1', b'.', 0xff, 0xfe])), // not UTF-8
    ];
    for case in cases {
        let err = parse("after", &case).expect_err(&case);
        assert_eq!(
            err,
            BoundError::InvalidCursor {
                field: "after".into()
            }
        );
        assert_eq!(err.code(), "invalid_id");
        assert!(
            err.to_string().starts_with("after must be a cursor"),
            "{err}"
        );
    }
}
