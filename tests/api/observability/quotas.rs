//! Quota decisions by bucket and outcome.

use serde_json::json;

use super::{scrape, total};
use crate::chatkit_client::{LESSON, lessons_dir, message};
use crate::helpers::{pairs, spawn_app_with};

#[tokio::test]
async fn quota_checks_are_counted_allowed_and_rejected_per_bucket() {
    // Arrange: two turns a minute; four requests a minute of anything.
    let app = spawn_app_with(pairs(&[
        ("LESSONS_DIR", &lessons_dir()),
        ("RATE_LIMIT_CHAT_FREE", "2/minute"),
        ("RATE_LIMIT_API_FREE", "4/minute"),
    ]))
    .await;
    let before = scrape(&app).await;
    let turn = json!({"type":"threads.create","params":{"input": message("What is an agent?")}});

    // Act: three turns of one student (each also an api request), five reads of another.
    let mut turns = Vec::new();
    for _ in 0..3 {
        let resp = app
            .chatkit_as(
                "quota-chat",
                turn.clone(),
                &format!("?lesson_path={LESSON}"),
            )
            .await;
        turns.push(resp.status().as_u16());
    }
    let mut reads = Vec::new();
    for _ in 0..5 {
        let resp = app
            .client
            .get(app.url("/v1/threads"))
            .header("x-user-id", "quota-reader")
            .send()
            .await
            .unwrap();
        reads.push(resp.status().as_u16());
    }
    let text = scrape(&app).await;

    // Assert
    assert_eq!(turns, [200, 200, 429]);
    assert_eq!(reads, [200, 200, 200, 200, 429]);
    let decisions = |text: &str, bucket: &str, outcome: &str| {
        total(
            text,
            "rate_limit_decisions_total",
            &[("bucket", bucket), ("outcome", outcome)],
        )
    };
    for (bucket, outcome) in [
        ("chat", "allowed"),
        ("chat", "rejected"),
        ("api", "allowed"),
        ("api", "rejected"),
    ] {
        assert_eq!(
            decisions(&before, bucket, outcome),
            0.0,
            "at zero from the start"
        );
    }
    assert_eq!(decisions(&text, "chat", "allowed"), 2.0);
    assert_eq!(decisions(&text, "chat", "rejected"), 1.0);
    assert_eq!(decisions(&text, "api", "allowed"), 3.0 + 4.0);
    assert_eq!(decisions(&text, "api", "rejected"), 1.0);
    let rejected = |bucket: &str| {
        total(
            &text,
            "rate_limit_rejections_total",
            &[("bucket", bucket), ("window", "minute")],
        )
    };
    assert_eq!(rejected("chat"), 1.0);
    assert_eq!(rejected("api"), 1.0);
    assert!(!text.contains("quota-chat") && !text.contains("quota-reader"));
}
