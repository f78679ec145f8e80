//! Pre-authentication throttling: refused attempts are budgeted per client address, and opaque
//! tokens cost the SSO one call per token, however often or concurrently they are sent.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use super::{list_threads, spawn_verifying, with_token};
use crate::fake_sso::{FakeSso, token};
use crate::helpers::TestApp;

/// `GET /v1/threads` with `token` as a bearer token: status, `Retry-After`, body.
async fn attempt(app: &TestApp, token: Option<&str>) -> (u16, Option<u64>, Value) {
    let mut req = app.client.get(app.url("/v1/threads"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("request reaches the service");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("whole seconds"));
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

fn random_token() -> String {
    format!("opaque-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn random_opaque_tokens_from_one_address_reach_the_sso_at_most_the_budget() {
    let sso = FakeSso::start().await;
    sso.set_delay(Duration::from_millis(50));
    let app = spawn_verifying(&sso, &[("PREAUTH_RATE_LIMIT", "30/minute")]).await;

    let attempts = (0..250).map(|_| async { attempt(&app, Some(&random_token())).await });
    let answers = join_all(attempts).await;

    let refused = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let throttled: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(refused + throttled.len(), 250, "only 401s and 429s");
    assert!(refused <= 30, "{refused} lookups over a budget of 30");
    assert!(
        sso.userinfo_hits() <= 30,
        "{} SSO calls",
        sso.userinfo_hits()
    );
    let (_, retry, body) = throttled[0];
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["limit"], 30);
    assert_eq!(body["error"]["window"], "minute");
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn an_address_over_budget_is_turned_away_before_its_credential_is_looked_at() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[("PREAUTH_RATE_LIMIT", "3/minute")]).await;
    sso.add_opaque("opaque-ada", json!({"sub": "ada"}));
    // Authenticated requests spend nothing.
    for _ in 0..10 {
        assert_eq!(with_token(&app, &token("ada")).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(with_token(&app, &random_token()).await.0, 401);
    }
    let hits = sso.userinfo_hits();

    let (status, retry, _) = attempt(&app, Some(&random_token())).await;
    let (valid_opaque, _, _) = attempt(&app, Some("opaque-ada")).await;
    let (anonymous, _, _) = attempt(&app, None).await;

    assert_eq!((status, valid_opaque, anonymous), (429, 429, 429));
    assert!(retry.is_some());
    assert_eq!(sso.userinfo_hits(), hits, "no lookup once over budget");
    // Public routes are never limited.
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/openapi.json").await.status(), 200);
}

#[tokio::test]
async fn a_refused_opaque_token_sent_again_costs_no_second_sso_call() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;

    let first = with_token(&app, "opaque-unknown").await;
    let second = with_token(&app, "opaque-unknown").await;

    assert_eq!((first.0, second.0), (401, 401));
    assert_eq!(first.2["error"]["message"], second.2["error"]["message"]);
    assert_eq!(sso.userinfo_hits(), 1);
}

#[tokio::test]
async fn an_sso_outage_is_not_remembered_as_a_refusal() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[]).await;
    sso.add_opaque("opaque-ada", json!({"sub": "ada"}));
    sso.set_down(true);
    assert_eq!(with_token(&app, "opaque-ada").await.0, 503);

    sso.set_down(false);

    assert_eq!(with_token(&app, "opaque-ada").await.0, 200);
}

#[tokio::test]
async fn concurrent_requests_with_one_opaque_token_share_one_sso_call() {
    let sso = FakeSso::start().await;
    sso.set_delay(Duration::from_millis(300));
    let app = spawn_verifying(&sso, &[]).await;
    sso.add_opaque("opaque-ada", json!({"sub": "ada"}));

    let good = join_all((0..20).map(|_| with_token(&app, "opaque-ada"))).await;
    let good_hits = sso.userinfo_hits();
    let bad = join_all((0..20).map(|_| with_token(&app, "opaque-bad"))).await;

    assert!(good.iter().all(|(s, _, _)| *s == 200), "{good:?}");
    assert_eq!(good_hits, 1);
    assert!(bad.iter().all(|(s, _, _)| *s == 401), "{bad:?}");
    assert_eq!(sso.userinfo_hits(), 2);
}

#[tokio::test]
async fn x_forwarded_for_separates_clients_only_behind_a_trusted_proxy() {
    let sso = FakeSso::start().await;
    let budget = [("PREAUTH_RATE_LIMIT", "2/minute")];
    let direct = spawn_verifying(&sso, &budget).await;
    let proxied = spawn_verifying(&sso, &[budget[0], ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];

    // Not a trusted proxy: a forged X-Forwarded-For buys no fresh budget.
    let forged = [
        list_threads(&direct, &from("198.51.100.1")).await.0,
        list_threads(&direct, &from("198.51.100.2")).await.0,
        list_threads(&direct, &from("198.51.100.3")).await.0,
    ];
    // Behind a trusted proxy: each forwarded client has its own budget.
    let behind = [
        list_threads(&proxied, &from("198.51.100.1")).await.0,
        list_threads(&proxied, &from("198.51.100.1")).await.0,
        list_threads(&proxied, &from("198.51.100.1")).await.0,
        list_threads(&proxied, &from("198.51.100.2")).await.0,
        list_threads(&proxied, &from("2001:db8:7:7::1")).await.0,
        list_threads(&proxied, &from("2001:db8:7:7::2")).await.0,
        list_threads(&proxied, &from("2001:db8:7:7::3")).await.0,
    ];

    assert_eq!(forged, [401, 401, 429]);
    assert_eq!(behind, [401, 401, 429, 401, 401, 401, 429], "IPv6 per /64");
}

#[tokio::test]
async fn well_formed_unknown_api_keys_are_looked_up_only_within_the_budget() {
    let sso = FakeSso::start().await;
    let app = spawn_verifying(&sso, &[("PREAUTH_RATE_LIMIT", "3/minute")]).await;
    let key = |i: usize| format!("sk_probe{i}_{}", "A1b2C3d4".repeat(5));

    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(attempt(&app, Some(&key(i))).await.0);
    }

    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}
