//! Protecting the lesson source: the circuit breaker (repeated failures, GitHub's rate limit)
//! and the per-user budget of upstream fetches, observed through the fake GitHub's counters.

use std::time::Duration;

use serde_json::Value;

use super::{LESSON, encode, markdown, spawn};
use crate::fake_github::FakeGithub;
use crate::helpers::TestApp;

impl TestApp {
    async fn lesson_as(&self, user: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/v1/lessons?path={}", encode(path))))
            .header("x-user-id", user)
            .send()
            .await
            .expect("request reaches the service")
    }
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

fn unknown(i: usize) -> String {
    format!("01-Foundations/99-Unknown/{i:02}-lesson")
}

#[tokio::test]
async fn once_github_rate_limits_uncached_lessons_answer_503_with_retry_after_without_asking_again()
{
    // Arrange
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[]).await;
    fake.throttle(120);

    // Act
    let first = app.lesson(&unknown(0)).await;
    let after_first = fake.total_hits();
    let mut later = Vec::new();
    for i in 1..20 {
        later.push(app.lesson(&unknown(i)).await);
    }

    // Assert
    assert_eq!(first.status(), 503);
    assert!((100..=120).contains(&retry_after(&first)));
    assert_eq!(after_first, 1, "the 429 stops the forms of that lesson too");
    for resp in &later {
        assert_eq!(resp.status(), 503);
        let wait = retry_after(resp);
        assert!((1..=120).contains(&wait), "Retry-After {wait}");
    }
    let body: Value = later.pop().unwrap().json().await.unwrap();
    assert_eq!(body["error"]["code"], "lesson_unavailable");
    assert_eq!(fake.total_hits(), 1, "nothing more is asked of GitHub");
}

#[tokio::test]
async fn while_the_source_is_left_alone_cached_and_stale_lessons_are_still_served() {
    // Arrange
    let fake = FakeGithub::start().await;
    let other = "01-Foundations/02-Agents/02-the-agent-loop";
    fake.put(&format!("{LESSON}.md"), &markdown("Agents"));
    fake.put(&format!("{other}.md"), &markdown("The Loop"));
    let app = spawn(&fake, &[("CONTENT_CACHE_TTL", "1")]).await;
    assert_eq!(app.lesson_json(LESSON).await.0, 200);
    assert_eq!(app.lesson_json(other).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    fake.throttle(600);

    // Act: the first stale read asks GitHub and opens the breaker; the second does not ask.
    let (first, first_body) = app.lesson_json(LESSON).await;
    let (second, second_body) = app.lesson_json(other).await;

    // Assert
    assert_eq!((first, second), (200, 200));
    assert_eq!(first_body["stale"], true);
    assert_eq!(second_body["stale"], true);
    assert_eq!(second_body["title"], "The Loop");
    assert_eq!(fake.hits(&format!("{other}.md")), 1, "only the first read");
    assert_eq!(app.lesson(&unknown(0)).await.status(), 503);
}

#[tokio::test]
async fn repeated_failures_open_the_breaker_and_github_is_left_alone() {
    // Arrange
    let fake = FakeGithub::start().await;
    let app = spawn(&fake, &[("LESSON_SOURCE_BREAKER_FAILURES", "3")]).await;
    fake.fail(true);

    // Act
    let mut statuses = Vec::new();
    for i in 0..10 {
        statuses.push(app.lesson(&unknown(i)).await.status().as_u16());
    }

    // Assert
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    assert_eq!(
        fake.total_hits(),
        3,
        "one request per failure until it opens"
    );
    let resp = app.lesson(&unknown(10)).await;
    assert!((1..=30).contains(&retry_after(&resp)));
}

#[tokio::test]
async fn after_the_cool_off_one_probe_finds_github_back_and_closes_the_breaker() {
    // Arrange
    let fake = FakeGithub::start().await;
    fake.put(&format!("{LESSON}.md"), &markdown("Agents"));
    let app = spawn(
        &fake,
        &[
            ("LESSON_SOURCE_BREAKER_FAILURES", "1"),
            ("LESSON_SOURCE_BREAKER_COOL_OFF_SECS", "1"),
        ],
    )
    .await;
    fake.fail(true);
    assert_eq!(app.lesson(LESSON).await.status(), 503);
    assert_eq!(app.lesson(LESSON).await.status(), 503);
    assert_eq!(fake.total_hits(), 1);
    fake.fail(false);

    // Act
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, body) = app.lesson_json(LESSON).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["title"], "Agents");
    assert_eq!(app.lesson(&unknown(0)).await.status(), 404, "closed again");
}

#[tokio::test]
async fn a_user_beyond_the_upstream_fetch_budget_gets_429_while_cached_lessons_and_other_users_are_served()
 {
    // Arrange
    let fake = FakeGithub::start().await;
    fake.put(&format!("{LESSON}.md"), &markdown("Agents"));
    let app = spawn(&fake, &[("LESSON_UPSTREAM_FETCHES_PER_MINUTE", "3")]).await;
    assert_eq!(app.lesson_as("student-2", LESSON).await.status(), 200);
    let before = fake.total_hits();

    // Act: an attacker walks unknown paths.
    let mut statuses = Vec::new();
    for i in 0..10 {
        statuses.push(app.lesson_as("attacker", &unknown(i)).await);
    }

    // Assert
    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, [404, 404, 404, 429, 429, 429, 429, 429, 429, 429]);
    assert_eq!(
        fake.total_hits() - before,
        3 * 4,
        "three misses, four forms each"
    );
    let refused = statuses.pop().unwrap();
    let wait = retry_after(&refused);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["limit"], 3);
    assert_eq!(body["error"]["window"], "minute");
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert_eq!(
        app.lesson_as("attacker", LESSON).await.status(),
        200,
        "a cached lesson costs no fetch"
    );
    assert_eq!(
        app.lesson_as("student-3", &unknown(0)).await.status(),
        404,
        "other users keep their own budget (and the miss is remembered)"
    );
}
