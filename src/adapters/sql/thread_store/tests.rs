//! Unit tests of the SQL thread store's pure parts: page cutting and row conversions.

use chrono::DateTime;
use serde_json::json;

use super::convert::{from_micros, item_from_row, kind_name, payload, to_micros};
use super::entities::item;
use super::keyset::{into_page, page_size};
use crate::domain::cursor::{self, After, Position};
use crate::domain::ports::StoreError;
use crate::domain::thread::{
    DEFAULT_PAGE_SIZE, InferenceOptions, ItemKind, MAX_PAGE_SIZE, ThreadItem,
};

fn kinds() -> Vec<ItemKind> {
    vec![
        ItemKind::UserMessage {
            content: vec![],
            quoted_text: None,
            inference_options: InferenceOptions::default(),
            hidden: true,
        },
        ItemKind::AssistantMessage {
            text: "hi".to_owned(),
            interrupted: false,
            citations: Vec::new(),
        },
        ItemKind::HiddenContext {
            content: json!({ "cancelled": true }),
        },
    ]
}

#[test]
fn into_page_cuts_the_probe_row_and_gives_the_position_of_the_last_row_of_the_page() {
    let rows = vec![(1, "a"), (2, "b"), (3, "c")];
    let page = into_page(rows, 2, |&(at, id)| {
        (from_micros(at).expect("in range"), id)
    });
    assert_eq!(page.data, [(1, "a"), (2, "b")]);
    assert!(page.has_more);
    let after = page.after.expect("a cursor");
    assert_eq!(
        cursor::parse("after", &after),
        Ok(After::Position(Position {
            created_at: 2,
            id: "b".into()
        }))
    );
}

#[test]
fn into_page_without_a_probe_row_has_no_more_and_no_cursor() {
    let page = into_page(vec![(1, "a"), (2, "b")], 2, |&(at, id)| {
        (from_micros(at).expect("in range"), id)
    });
    assert_eq!(page.data, [(1, "a"), (2, "b")]);
    assert!(!page.has_more);
    assert_eq!(page.after, None);
}

#[test]
fn page_size_uses_the_default_for_zero_and_caps_at_the_maximum() {
    assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
    assert_eq!(page_size(7), 7);
    assert_eq!(page_size(MAX_PAGE_SIZE + 1), MAX_PAGE_SIZE);
}

#[test]
fn microsecond_instants_round_trip_exactly() {
    for micros in [0, 1, -1, 1_763_800_000_123_457, -86_400_000_000_123] {
        let at = from_micros(micros).expect("in range");
        assert_eq!(to_micros(at), micros);
    }
}

#[test]
fn an_out_of_range_stored_instant_is_an_unexpected_error() {
    assert!(matches!(
        from_micros(i64::MAX),
        Err(StoreError::Unexpected(_))
    ));
}

#[test]
fn kind_name_matches_the_type_tag_of_the_payload() {
    for kind in kinds() {
        let json = payload(&kind).expect("serializes");
        assert_eq!(json["type"], kind_name(&kind));
    }
}

#[test]
fn an_item_row_reads_back_as_the_item_it_was_made_from() {
    for kind in kinds() {
        let item = ThreadItem {
            id: "msg_1".to_owned(),
            thread_id: "thr_1".to_owned(),
            created_at: DateTime::from_timestamp_micros(1_763_800_000_123_457).expect("in range"),
            kind,
        };
        let row = item::Model {
            id: item.id.clone(),
            thread_id: item.thread_id.clone(),
            user_id: "alice".to_owned(),
            organization_id: None,
            kind: kind_name(&item.kind).to_owned(),
            payload: payload(&item.kind).expect("serializes"),
            visible: item.kind.is_visible(),
            created_at: to_micros(item.created_at),
            input_tokens: None,
            output_tokens: None,
            section: None,
        };
        assert_eq!(item_from_row(row).expect("reads back"), item);
    }
}

#[test]
fn a_corrupt_payload_is_an_unexpected_error() {
    let row = item::Model {
        id: "msg_1".to_owned(),
        thread_id: "thr_1".to_owned(),
        user_id: "alice".to_owned(),
        organization_id: None,
        kind: "assistant_message".to_owned(),
        payload: json!({ "type": "nonsense" }),
        visible: true,
        created_at: 0,
        input_tokens: None,
        output_tokens: None,
        section: None,
    };
    assert!(matches!(item_from_row(row), Err(StoreError::Unexpected(_))));
}
