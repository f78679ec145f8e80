//! Model requests by status, their retries, and a turn the model refuses.

use super::{scrape, spawn_with_model, total};
use crate::chatkit_client::{assistant_text, types};
use crate::fake_model::{self, Script};

#[tokio::test]
async fn a_model_that_fails_twice_then_answers_counts_each_request_by_status_and_two_retries() {
    // Arrange: a 429, then a 503, then the answer.
    let model = fake_model::start(Script {
        failures_first: vec![429, 503],
        deltas: vec!["Third ".into(), "time.".into()],
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;

    // Act
    let (_, events) = app.start_thread("student-retry", "Hi").await;
    let text = scrape(&app).await;

    // Assert
    assert_eq!(assistant_text(&events), "Third time.");
    let requests = |status: &str| {
        total(
            &text,
            "tutoring_model_requests_total",
            &[("status", status)],
        )
    };
    assert_eq!(requests("rate_limited"), 1.0);
    assert_eq!(requests("server_error"), 1.0);
    assert_eq!(requests("ok"), 1.0);
    assert_eq!(requests("client_error"), 0.0);
    assert_eq!(total(&text, "tutoring_model_retries_total", &[]), 2.0);
    assert_eq!(
        total(
            &text,
            "tutoring_turns_total",
            &[("mode", "teach"), ("outcome", "completed")]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_model_that_refuses_the_request_ends_the_turn_as_a_model_error_without_retrying() {
    // Arrange: a 400 (a bad model name, say): retrying cannot help.
    let model = fake_model::start(Script {
        failures_first: vec![400],
        deltas: vec!["never sent".into()],
        ..Script::default()
    })
    .await;
    let app = spawn_with_model(&model).await;

    // Act
    let (_, events) = app.start_thread("student-refused", "Hi").await;
    let text = scrape(&app).await;

    // Assert
    assert_eq!(types(&events).last(), Some(&"error"), "{events:?}");
    assert_eq!(
        total(
            &text,
            "tutoring_model_requests_total",
            &[("status", "client_error")]
        ),
        1.0
    );
    assert_eq!(total(&text, "tutoring_model_retries_total", &[]), 0.0);
    assert_eq!(
        total(
            &text,
            "tutoring_turns_total",
            &[("mode", "teach"), ("outcome", "model_error")]
        ),
        1.0
    );
    assert_eq!(
        total(&text, "tutoring_turns_total", &[("outcome", "completed")]),
        0.0
    );
    assert_eq!(total(&text, "tutoring_streams_open", &[]), 0.0);
}

#[tokio::test]
async fn with_the_offline_tutor_the_model_series_exist_at_zero() {
    let app = crate::helpers::spawn_app_with(crate::helpers::pairs(&[(
        "LESSONS_DIR",
        &crate::chatkit_client::lessons_dir(),
    )]))
    .await;
    let text = scrape(&app).await;
    for status in ["ok", "rate_limited", "server_error", "timeout"] {
        assert_eq!(
            total(
                &text,
                "tutoring_model_requests_total",
                &[("status", status)]
            ),
            0.0
        );
    }
    assert_eq!(total(&text, "tutoring_model_retries_total", &[]), 0.0);
}
