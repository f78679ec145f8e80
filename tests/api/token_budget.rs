//! Daily token budgets on the running service: a spent budget refuses the next turn with 429
//! `token_budget_exhausted` until the next UTC day, the headers and the status endpoint show
//! it, the offline tutor is charged an estimate, and replicas sharing Redis share the budget;
//! the spent budget and the shared one on Postgres too.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use study_mode_api::app::budget::BudgetService;
use study_mode_api::bootstrap::Application;

use crate::chatkit_client::{LESSON, lessons_dir, message, sse_events};
use crate::fake_model::{self, FakeModel, Script};
use crate::helpers::{
    TestApp, fresh_postgres_database, pairs, spawn_built, test_config, test_database_url,
    test_redis_url,
};

/// What the fake model reports per turn: 12 prompt + 7 completion tokens.
const TURN_TOKENS: u64 = 19;

fn user() -> String {
    format!("budget-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh Postgres database for one test, or `None` without `TEST_DATABASE_URL` (a skip
/// notice is printed then, a failure under CI).
async fn postgres() -> Option<String> {
    let admin = test_database_url().await?;
    Some(fresh_postgres_database(&admin).await)
}

/// A service with the sample lessons on `database` (a fresh SQLite file when `None`), `extra`
/// variables, and a handle on its budgets.
async fn spawn(database: Option<&str>, extra: &[(&str, &str)]) -> (TestApp, Arc<BudgetService>) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let sqlite = format!("sqlite://{}/app.sqlite?mode=rwc", dir.path().display());
    let url = database.unwrap_or(&sqlite);
    let mut vars = pairs(&[("DATABASE_URL", url), ("LESSONS_DIR", &lessons_dir())]);
    vars.extend(pairs(extra));
    // Boxed: two services built in one test would not fit on a test thread's stack.
    let app = Box::pin(Application::build(test_config(vars)))
        .await
        .expect("application builds");
    let budget = app.budget().expect("budgets are configured");
    let mut app = spawn_built(app);
    app._dir = Some(dir);
    (app, budget)
}

fn model_vars(model: &FakeModel) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_API_KEY", "sk-test".to_string()),
        ("OPENAI_BASE_URL", model.base_url()),
        ("MODEL_TIMEOUT_SECS", "10".to_string()),
    ]
}

async fn spawn_with_model(
    model: &FakeModel,
    database: Option<&str>,
    extra: &[(&str, &str)],
) -> (TestApp, Arc<BudgetService>) {
    let owned = model_vars(model);
    let mut vars: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    spawn(database, &vars).await
}

async fn model() -> FakeModel {
    fake_model::start(Script {
        deltas: vec!["Agents ".into(), "act.".into()],
        ..Script::default()
    })
    .await
}

/// `threads.create` as `user`: the raw answer.
async fn create(app: &TestApp, user: &str) -> reqwest::Response {
    let body = json!({"type":"threads.create","params":{"input": message("What is an agent?")}});
    app.chatkit_as(user, body, &format!("?lesson_path={LESSON}"))
        .await
}

/// `threads.add_user_message` as `user`: the raw answer.
async fn send(app: &TestApp, user: &str, thread_id: &str) -> reqwest::Response {
    let body = json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input": message("And then?")}});
    app.chatkit_as(user, body, "").await
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Reads a turn to its end (the turn is charged before its stream ends): its thread id.
async fn finish(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200, "the turn starts");
    let events = sse_events(&resp.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"thread.item.done"), "{kinds:?}");
    events
        .iter()
        .find_map(|e| e["thread"]["id"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn status(app: &TestApp, user: &str) -> Value {
    let resp = app
        .client
        .get(app.url("/v1/rate-limit"))
        .header("x-user-id", user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn item_count(app: &TestApp, user: &str, thread_id: &str) -> usize {
    let resp = app
        .client
        .get(app.url(&format!("/v1/threads/{thread_id}/items")))
        .header("x-user-id", user)
        .send()
        .await
        .unwrap();
    let page: Value = resp.json().await.unwrap();
    page["data"].as_array().expect("items").len()
}

#[tokio::test]
async fn a_spent_budget_refuses_the_next_turn_with_429_until_the_next_utc_day() {
    a_spent_budget_refuses_until_the_next_day(None).await;
}

#[tokio::test]
async fn a_spent_budget_refuses_the_next_turn_with_429_until_the_next_utc_day_on_postgres() {
    let Some(url) = postgres().await else {
        return;
    };
    a_spent_budget_refuses_until_the_next_day(Some(&url)).await;
}

async fn a_spent_budget_refuses_until_the_next_day(database: Option<&str>) {
    // Arrange: a budget of exactly one turn of the fake model
    let model = model().await;
    let (app, budget) = spawn_with_model(&model, database, &[("TOKEN_BUDGET_FREE", "19")]).await;
    let who = user();
    let first = create(&app, &who).await;
    assert_eq!(header(&first, "x-tokenbudget-limit").as_deref(), Some("19"));
    assert_eq!(
        header(&first, "x-tokenbudget-remaining").as_deref(),
        Some("19"),
        "as checked before the turn"
    );
    let thread_id = finish(first).await;

    // Act
    let refused = send(&app, &who, &thread_id).await;

    // Assert: 429 naming the budget and its reset, nothing stored
    assert_eq!(refused.status(), 429);
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "until 00:00 UTC: {retry}");
    assert_eq!(
        header(&refused, "x-tokenbudget-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(
        header(&refused, "x-tokenbudget-reset"),
        Some(retry.to_string())
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_budget_exhausted");
    assert_eq!(body["error"]["limit"], 19);
    assert_eq!(body["error"]["window"], "day");
    let text = body["error"]["message"].as_str().unwrap();
    assert!(
        text.contains("daily token budget of 19 tokens") && text.contains("00:00 UTC"),
        "{text}"
    );
    assert_eq!(
        item_count(&app, &who, &thread_id).await,
        2,
        "no message stored"
    );
    assert_eq!(model.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    let shown = status(&app, &who).await["token_budget"].clone();
    assert_eq!(shown["unlimited"], false);
    assert_eq!(shown["limit"], 19);
    assert_eq!(shown["used"], TURN_TOKENS);
    assert_eq!(shown["remaining"], 0);
    assert_eq!(shown["reset"], retry);
    assert!(
        shown["resets_at"].as_str().unwrap().contains("T00:00:00"),
        "{shown}"
    );
    assert_eq!(
        create(&app, &user()).await.status(),
        200,
        "another student has a budget of their own"
    );

    // Reset: the next UTC day starts with the whole budget again
    budget.set_clock(Arc::new(|| chrono::Utc::now() + chrono::Duration::days(1)));
    let next_day = send(&app, &who, &thread_id).await;
    assert_eq!(
        header(&next_day, "x-tokenbudget-remaining").as_deref(),
        Some("19")
    );
    finish(next_day).await;
    assert_eq!(
        status(&app, &who).await["token_budget"]["used"],
        TURN_TOKENS
    );
}

#[tokio::test]
async fn the_rest_mirror_refuses_a_spent_budget_the_same_way() {
    let model = model().await;
    let (app, _) = spawn_with_model(&model, None, &[("TOKEN_BUDGET_FREE", "10")]).await;
    let who = user();
    let thread_id = finish(create(&app, &who).await).await;
    let resp = app
        .client
        .post(app.url(&format!("/v1/threads/{thread_id}/messages")))
        .header("x-user-id", &who)
        .json(&json!({"text": "More"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-tokenbudget-limit").as_deref(), Some("10"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_budget_exhausted");
}

#[tokio::test]
async fn the_offline_tutor_reports_no_usage_and_is_charged_an_estimate() {
    let (app, _) = spawn(None, &[("TOKEN_BUDGET_FREE", "1000000")]).await;
    let who = user();
    assert_eq!(status(&app, &who).await["token_budget"]["used"], 0);
    finish(create(&app, &who).await).await;
    let shown = status(&app, &who).await["token_budget"].clone();
    let used = shown["used"].as_u64().unwrap();
    // About four characters a token of prompt (lesson, instructions) and answer.
    assert!((50..20_000).contains(&used), "{shown}");
    assert_eq!(shown["remaining"].as_u64().unwrap(), 1_000_000 - used);
}

#[tokio::test]
async fn an_unlimited_tier_gets_no_budget_headers_and_still_sees_its_use() {
    let model = model().await;
    let (app, _) = spawn_with_model(&model, None, &[("TOKEN_BUDGET_FREE", "unlimited")]).await;
    let who = user();
    let resp = create(&app, &who).await;
    assert!(header(&resp, "x-tokenbudget-limit").is_none());
    assert!(header(&resp, "x-tokenbudget-remaining").is_none());
    finish(resp).await;
    let shown = status(&app, &who).await["token_budget"].clone();
    assert_eq!(shown["unlimited"], true);
    assert!(
        shown.get("limit").is_none() && shown.get("remaining").is_none(),
        "{shown}"
    );
    assert_eq!(shown["used"], TURN_TOKENS);
}

/// Waits until the replica's Redis connection is up (readiness says `ok`, not `degraded`).
async fn redis_ready(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.get_json("/health/ready").await.1["status"] != "ok" {
        assert!(tokio::time::Instant::now() < deadline, "Redis connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `test` on a thread of its own with an 8 MiB stack: with Redis, a request's future is
/// deeper than a debug build's 2 MiB test thread holds (the quota tests with Redis hit it too).
fn on_a_large_stack<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(test());
        })
        .expect("test thread")
        .join()
        .expect("the test passes");
}

/// Each replica on a database of its own: the budget is shared through Redis alone.
#[test]
fn replicas_sharing_redis_share_one_budget() {
    on_a_large_stack(|| shared_budget(None));
}

/// Both replicas on one Postgres database, as deployed.
#[test]
fn replicas_sharing_redis_and_postgres_share_one_budget() {
    on_a_large_stack(|| async {
        if let Some(url) = postgres().await {
            shared_budget(Some(&url)).await;
        }
    });
}

async fn shared_budget(database: Option<&str>) {
    let Some(redis) = test_redis_url().await else {
        return;
    };
    let model = model().await;
    // Quotas off: this test is about the budget.
    let shared = [
        ("TOKEN_BUDGET_FREE", "19"),
        ("REDIS_URL", redis.as_str()),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "3000"),
        ("RATE_LIMIT_CHAT_FREE", "unlimited"),
        ("RATE_LIMIT_API_FREE", "unlimited"),
    ];
    let (a, _) = spawn_with_model(&model, database, &shared).await;
    let (b, _) = spawn_with_model(&model, database, &shared).await;
    redis_ready(&a).await;
    redis_ready(&b).await;
    let who = user();
    let thread_id = finish(create(&a, &who).await).await;
    assert_eq!(status(&b, &who).await["token_budget"]["used"], TURN_TOKENS);
    let refused = create(&b, &who).await;
    assert_eq!(refused.status(), 429, "charged on the other replica");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_budget_exhausted");
    if database.is_some() {
        // One database: the thread begun on one replica goes on on the other, refused too.
        let refused = send(&b, &who, &thread_id).await;
        assert_eq!(refused.status(), 429);
        assert_eq!(item_count(&b, &who, &thread_id).await, 2, "nothing stored");
    }
}
