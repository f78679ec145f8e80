use super::*;

use StageStatus::{Completed, Failed, Pending, Processing, Skipped};

#[test]
fn nothing_started_is_pending() {
    assert_eq!(overall_status([Pending; 5]), Pending);
    assert_eq!(overall_status([]), Pending);
}

#[test]
fn any_failed_stage_fails_the_resource_whatever_the_others() {
    assert_eq!(
        overall_status([Completed, Failed, Pending, Pending, Pending]),
        Failed
    );
    assert_eq!(
        overall_status([Completed, Completed, Processing, Skipped, Failed]),
        Failed
    );
    assert_eq!(overall_status([Failed]), Failed);
}

#[test]
fn every_stage_completed_or_skipped_completes_the_resource() {
    assert_eq!(overall_status([Completed; 5]), Completed);
    assert_eq!(
        overall_status([Completed, Completed, Completed, Completed, Skipped]),
        Completed
    );
    assert_eq!(overall_status([Skipped; 5]), Completed);
}

#[test]
fn a_stage_under_way_or_a_mix_of_done_and_waiting_is_processing() {
    assert_eq!(
        overall_status([Processing, Pending, Pending, Pending, Pending]),
        Processing
    );
    assert_eq!(
        overall_status([Completed, Pending, Pending, Pending, Pending]),
        Processing
    );
    assert_eq!(
        overall_status([Completed, Completed, Completed, Completed, Processing]),
        Processing
    );
    assert_eq!(
        overall_status([Pending, Pending, Pending, Pending, Skipped]),
        Processing
    );
}

#[test]
fn a_resource_reports_every_stage_and_the_overall_status_of_them() {
    let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let later = DateTime::from_timestamp(1_767_225_700, 0).unwrap();

    let progress = ResourceProgress::from_stages(
        "lessons/a",
        [
            (Stage::Ingestion, StageProgress::new(Completed, None, at)),
            (Stage::Quality, StageProgress::new(Processing, None, later)),
        ],
    );

    assert_eq!(progress.resource_id(), "lessons/a");
    assert_eq!(progress.overall(), Processing);
    assert_eq!(progress.stages().len(), Stage::ALL.len());
    assert_eq!(progress.stage(Stage::Graph), &StageProgress::default());
    assert_eq!(progress.updated_at(), Some(later));
    let pending = ResourceProgress::pending("lessons/b");
    assert_eq!(pending.overall(), Pending);
    assert_eq!(pending.updated_at(), None);
}

#[test]
fn progress_serialises_with_the_seeds_names() {
    let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let progress = ResourceProgress::from_stages(
        "lessons/a",
        [(
            Stage::Ingestion,
            StageProgress::new(Failed, Some("boom"), at),
        )],
    );

    let json = serde_json::to_value(&progress).unwrap();

    assert_eq!(json["resource_id"], "lessons/a");
    assert_eq!(json["overall_status"], "FAILED");
    assert_eq!(json["stages"]["ingestion"]["status"], "FAILED");
    assert_eq!(json["stages"]["ingestion"]["error"], "boom");
    assert_eq!(json["stages"]["embedding"]["status"], "PENDING");
    assert_eq!(
        json["stages"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["embedding", "graph", "ingestion", "quality", "taxonomy"]
    );
}

#[test]
fn names_round_trip() {
    for stage in Stage::ALL {
        assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        assert_eq!(
            serde_json::to_value(stage).unwrap(),
            serde_json::json!(stage.as_str())
        );
    }
    for status in [Pending, Processing, Completed, Failed, Skipped] {
        assert_eq!(StageStatus::parse(status.as_str()), Some(status));
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!(status.as_str())
        );
    }
    assert_eq!(Stage::parse("INGESTION"), None);
    assert_eq!(StageStatus::parse("pending"), None);
}

#[test]
fn resource_ids_are_bounded() {
    assert_eq!(validate_resource_id("01-Foundations/02-agents"), Ok(()));
    assert_eq!(validate_resource_id(&"é".repeat(300)), Ok(()));
    assert_eq!(validate_resource_id(""), Err(ResourceIdError::Empty));
    assert_eq!(
        validate_resource_id(&"a".repeat(301)),
        Err(ResourceIdError::TooLong)
    );
    assert_eq!(
        validate_resource_id("a\nb"),
        Err(ResourceIdError::ControlCharacter)
    );
    assert_eq!(
        validate_resource_id("a\u{7f}"),
        Err(ResourceIdError::ControlCharacter)
    );
}

#[test]
fn error_details_lose_control_characters_and_are_cut() {
    assert_eq!(
        bound_error("  line one\nline two\t\u{1b}[31m  "),
        Some("line one line two  [31m".to_string())
    );
    assert_eq!(bound_error(" \n\r "), None);
    assert_eq!(bound_error(""), None);
    let exact = "x".repeat(MAX_ERROR_CHARS);
    assert_eq!(bound_error(&exact), Some(exact.clone()));
    let long = bound_error(&"é".repeat(MAX_ERROR_CHARS * 3)).unwrap();
    assert_eq!(long.chars().count(), MAX_ERROR_CHARS);
    assert!(long.ends_with('…'));
}
