//! Quotas on the running service: the chat bucket, headers, the status endpoint, shared
//! limits across replicas through Redis, and the in-process floor when Redis fails.

use std::time::Duration;

use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, message, spawn_tutor_app_on};
use crate::helpers::{TestApp, pairs, spawn_app_with, target_of, test_redis_url, via};
use crate::proxy::TcpProxy;

/// A valid turn: it counts against `chat` (the offline tutor answers it, with no network).
/// Admitted, it answers 200 and a stream, which these tests do not read.
fn chat_op() -> Value {
    json!({"type":"threads.create","params":{"input": message("What is an agent?")}})
}

/// POSTs a ChatKit request as `user`, on the sample lesson.
async fn post(app: &TestApp, user: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/chatkit?lesson_path={LESSON}")))
        .header("x-user-id", user)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = pairs(&[("LESSONS_DIR", &crate::chatkit_client::lessons_dir())]);
    vars.extend(pairs(extra));
    spawn_app_with(vars).await
}

/// Waits until the replica's Redis connection is up (readiness says `ok`, not `degraded`).
async fn redis_ready(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.get_json("/health/ready").await.1["status"] != "ok" {
        assert!(tokio::time::Instant::now() < deadline, "Redis connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn user() -> String {
    format!("quota-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn the_request_past_the_chat_quota_gets_429_with_retry_after() {
    // Arrange
    let app = spawn_with(&[("RATE_LIMIT_CHAT_FREE", "5/minute,100/day")]).await;
    let who = user();
    for _ in 0..5 {
        assert_eq!(
            post(&app, &who, &chat_op()).await.status(),
            200,
            "within the quota"
        );
    }
    // Act
    let resp = post(&app, &who, &chat_op()).await;
    // Assert
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The sliding window is full until the first of the five leaves it, a minute after it came.
    assert!((55..=60).contains(&retry), "{retry}");
    assert_eq!(
        resp.headers()["ratelimit-policy"],
        r#""chat-minute";q=5;w=60, "chat-day";q=100;w=86400"#
    );
    assert!(
        resp.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with(r#""chat-minute";r=0;t="#)
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["limit"], 5);
    assert_eq!(body["error"]["window"], "minute");
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(body["error"]["request_id"].is_string());
    // Reads do not count against chat, and another student is unaffected.
    let list = post(&app, &who, &json!({"type":"threads.list","params":{}})).await;
    assert_eq!(list.status(), 200);
    assert!(
        list.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .starts_with("\"api-minute\"")
    );
    assert_eq!(post(&app, &user(), &chat_op()).await.status(), 200);
}

#[tokio::test]
async fn the_status_endpoint_matches_what_the_next_request_sees() {
    let app = spawn_with(&[("RATE_LIMIT_CHAT_FREE", "10/minute")]).await;
    let who = user();
    post(&app, &who, &chat_op()).await;
    let status: Value = app
        .client
        .get(app.url("/v1/rate-limit"))
        .header("x-user-id", &who)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = status["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["bucket"] == "chat")
        .unwrap();
    assert_eq!(chat["windows"][0]["limit"], 10);
    assert_eq!(
        chat["windows"][0]["remaining"], 9,
        "the status call consumed nothing: {status}"
    );
    let next = post(&app, &who, &chat_op()).await;
    assert_eq!(next.headers()["x-ratelimit-remaining"], "8");
    assert_eq!(next.headers()["x-ratelimit-limit"], "10");
}

#[tokio::test]
async fn two_replicas_sharing_redis_admit_exactly_the_quota() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    // A generous Redis timeout: this test is about sharing, not about a slow Redis.
    let a = spawn_with(&[
        ("REDIS_URL", &redis),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "3000"),
    ])
    .await;
    let b = spawn_with(&[
        ("REDIS_URL", &redis),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "3000"),
    ])
    .await;
    redis_ready(&a).await;
    redis_ready(&b).await;
    let who = user();
    let op = chat_op();
    let sends = (0..100).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let (who, op) = (who.clone(), op.clone());
        async move { post(app, &who, &op).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(sends).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        20,
        "default chat quota 20/minute: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 80);
    assert_eq!(
        post(&a, &user(), &op).await.status(),
        200,
        "another student is unaffected"
    );
}

#[tokio::test]
async fn a_short_window_resets_on_time_against_redis() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let app = spawn_with(&[("REDIS_URL", &redis), ("RATE_LIMIT_CHAT_FREE", "2/second")]).await;
    redis_ready(&app).await;
    let who = user();
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 200);
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 200);
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        post(&app, &who, &chat_op()).await.status(),
        200,
        "the window replenished"
    );
}

#[tokio::test]
async fn without_redis_the_in_process_floor_still_limits_and_redis_takes_over_again() {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let other = spawn_with(&[
        ("REDIS_URL", &redis),
        ("RATE_LIMIT_CHAT_FREE", "3/minute"),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "1000"),
    ])
    .await;
    limiter_uses_redis(&other).await;
    let app = spawn_with(&[
        ("REDIS_URL", &via(&redis, proxy.addr)),
        ("RATE_LIMIT_CHAT_FREE", "3/minute"),
    ])
    .await;
    let who = user();
    assert_eq!(
        post(&app, &who, &chat_op()).await.status(),
        200,
        "counted in Redis"
    );
    // Redis goes away: requests are still served, and limited by the in-process floor.
    proxy.cut();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.get_json("/health/ready").await.1["status"] != "degraded" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outage is noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during: Vec<u16> = futures::future::join_all(
        (0..5).map(|_| async { post(&app, &who, &chat_op()).await.status().as_u16() }),
    )
    .await;
    // The floor admits at most the quota (a check racing the outage may also have been counted
    // in Redis before the connection dropped, so fewer is possible), and refuses the rest.
    let served = during.iter().filter(|s| **s == 200).count();
    assert!((1..=3).contains(&served), "{during:?}");
    assert_eq!(
        served + during.iter().filter(|s| **s == 429).count(),
        5,
        "{during:?}"
    );
    // Redis is back: once a check no longer falls back, Redis decides again.
    proxy.restore();
    limiter_uses_redis(&app).await;
    // A fresh student, alternating between this replica and one that never lost Redis: the
    // two share one count again.
    let fresh = user();
    let mut statuses = Vec::new();
    for app in [&app, &other, &app, &other] {
        statuses.push(post(app, &fresh, &chat_op()).await.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "3/minute shared by both replicas"
    );
}

/// Waits until a check of a throwaway student is decided by Redis (no new fallback).
async fn limiter_uses_redis(app: &TestApp) {
    redis_ready(app).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let before = fallbacks(app).await;
        post(app, &user(), &chat_op()).await;
        if fallbacks(app).await == before {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the limiter uses Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks decided in process so far (`rate_limit_fallbacks_total`).
async fn fallbacks(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("rate_limit_fallbacks_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn health_docs_and_metrics_are_never_limited() {
    let app = spawn_with(&[("RATE_LIMIT_API_FREE", "1/minute")]).await;
    for path in [
        "/health",
        "/health",
        "/openapi.json",
        "/openapi.json",
        "/metrics",
        "/metrics",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers().get("ratelimit").is_none());
    }
}

#[tokio::test]
async fn quotas_hold_on_postgres_too() {
    let Some(admin) = crate::helpers::test_database_url().await else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    let app = spawn_tutor_app_on(&url, &[("RATE_LIMIT_CHAT_FREE", "1/minute")]).await;
    let who = user();
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 200);
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 429);
}

#[tokio::test]
async fn requests_that_never_reach_the_model_do_not_spend_the_chat_quota() {
    // Arrange: 3 turns a minute; a thread to send bad input to.
    let app = spawn_with(&[("RATE_LIMIT_CHAT_FREE", "3/minute")]).await;
    let who = user();
    let (thread_id, _) = app.start_thread(&who, "Hello").await;
    let missing = json!({"type":"threads.add_user_message","params":{"thread_id":"thr_missing","input": message("hi")}});
    let empty = json!({"type":"threads.add_user_message","params":{"thread_id": thread_id,"input": message("   ")}});
    let retry_missing = json!({"type":"threads.retry_after_item","params":{"thread_id": thread_id,"item_id":"msg_missing"}});
    // Act: ten requests that fail before a turn, and their retries.
    for _ in 0..4 {
        assert_eq!(post(&app, &who, &missing).await.status(), 404);
        assert_eq!(post(&app, &who, &empty).await.status(), 400);
        assert_eq!(post(&app, &who, &retry_missing).await.status(), 404);
    }
    // Assert: the chat quota is whole but for the first turn, and the next turns run.
    let bad = post(&app, &who, &missing).await;
    assert!(
        bad.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .starts_with("\"api-minute\""),
        "a refused request reports the api bucket it spent"
    );
    let events = app.send(&who, &thread_id, "Go on").await;
    assert!(events.iter().any(|e| e["type"] == "thread.item.done"));
    let turn = post(&app, &who, &chat_op()).await;
    assert_eq!(turn.status(), 200);
    assert_eq!(turn.headers()["x-ratelimit-limit"], "3");
    assert_eq!(turn.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 429);
}

#[tokio::test]
async fn a_turn_refused_by_the_chat_quota_stores_nothing() {
    let app = spawn_with(&[("RATE_LIMIT_CHAT_FREE", "1/minute")]).await;
    let who = user();
    let (thread_id, _) = app.start_thread(&who, "Hello").await;
    let add = json!({"type":"threads.add_user_message","params":{"thread_id": thread_id,"input": message("Go on")}});
    let refused = post(&app, &who, &add).await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "no stream started"
    );
    assert_eq!(post(&app, &who, &chat_op()).await.status(), 429);
    let (_, items) = app
        .chatkit_json(
            &who,
            json!({"type":"items.list","params":{"thread_id": thread_id}}),
        )
        .await;
    assert_eq!(
        items["data"].as_array().unwrap().len(),
        2,
        "only the first turn: {items}"
    );
    let (_, threads) = app
        .chatkit_json(&who, json!({"type":"threads.list","params":{}}))
        .await;
    assert_eq!(threads["data"].as_array().unwrap().len(), 1, "{threads}");
    // The refused turn released its thread: nothing is left "in progress".
    let rest = app
        .client
        .post(app.url(&format!("/v1/threads/{thread_id}/messages")))
        .header("x-user-id", &who)
        .json(&json!({"text":"Go on"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 429, "still the quota, not turn_in_progress");
}
