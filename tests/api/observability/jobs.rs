//! Book-sync task outcomes on `/metrics`.

use serde_json::json;

use super::{scrape, total};
use crate::book_sync::github::{files, github_setup};
use crate::helpers::{fresh_postgres_database, test_database_url};

#[tokio::test]
async fn a_sync_counts_each_tasks_outcome_and_the_retries_of_a_failing_lesson() {
    sync_twice_with_a_failing_lesson(&[]).await;
}

#[tokio::test]
async fn on_postgres_a_sync_counts_each_tasks_outcome_and_the_retries_too() {
    let Some(admin_url) = test_database_url().await else {
        return;
    };
    let url = fresh_postgres_database(&admin_url).await;
    sync_twice_with_a_failing_lesson(&[("DATABASE_URL", &url)]).await;
}

async fn sync_twice_with_a_failing_lesson(extra: &[(&str, &str)]) {
    // Arrange: three lessons, one of which always fails (two tries each).
    let mut vars = vec![("JOB_MAX_ATTEMPTS", "2")];
    vars.extend_from_slice(extra);
    let (fake, app) = github_setup(&vars).await;
    let before = scrape(&app).await;
    let broken = files()[2];
    fake.fail_file(broken, None);

    // Act: a sync that leaves the broken lesson dead, then one after it is fixed.
    let first = app.sync_and_wait(json!({})).await;
    let after_first = scrape(&app).await;
    fake.heal(broken);
    let second = app.sync_and_wait(json!({})).await;
    let after_second = scrape(&app).await;

    // Assert: every series exists before any sync, at zero.
    assert_eq!(first["counts"]["dead"], 1, "{first}");
    assert_eq!(second["status"], "completed", "{second}");
    for (task, outcome) in [("list", "listed"), ("lesson", "synced"), ("lesson", "dead")] {
        let labels = [("task", task), ("outcome", outcome)];
        assert_eq!(total(&before, "study_job_tasks_total", &labels), 0.0);
    }
    assert_eq!(total(&before, "study_job_retries_total", &[]), 0.0);
    // The first sync: listed once, two lessons synced, the third failed, retried, dead.
    let tasks = |text: &str, task: &str, outcome: &str| {
        total(
            text,
            "study_job_tasks_total",
            &[("task", task), ("outcome", outcome)],
        )
    };
    assert_eq!(tasks(&after_first, "list", "listed"), 1.0);
    assert_eq!(tasks(&after_first, "lesson", "synced"), 2.0);
    assert_eq!(tasks(&after_first, "lesson", "retrying"), 1.0);
    assert_eq!(tasks(&after_first, "lesson", "dead"), 1.0);
    assert_eq!(
        total(
            &after_first,
            "study_job_retries_total",
            &[("task", "lesson")]
        ),
        1.0
    );
    // The second: the two unchanged, the healed one synced, no retry.
    assert_eq!(tasks(&after_second, "list", "listed"), 2.0);
    assert_eq!(tasks(&after_second, "lesson", "unchanged"), 2.0);
    assert_eq!(tasks(&after_second, "lesson", "synced"), 3.0);
    assert_eq!(tasks(&after_second, "lesson", "dead"), 1.0);
    assert_eq!(total(&after_second, "study_job_retries_total", &[]), 1.0);
    app.stop().await.unwrap();
}
