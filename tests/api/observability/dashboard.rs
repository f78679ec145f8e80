//! The dashboard and the alert rules query only series and labels `/metrics` has.

use std::collections::BTreeSet;

use regex::Regex;

use super::{exposed, value};
use crate::chatkit_client::assistant_text;
use crate::fake_model::{self, Script};
use crate::helpers::{pairs, spawn_app_with, test_redis_url};

/// Words of PromQL that look like metric names but are not.
const KEYWORDS: [&str; 12] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "le",
];

/// The metric names a PromQL expression reads (functions, labels, strings and Grafana variables
/// left out).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let strings = Regex::new(r#""(?:[^"\\]|\\.)*""#).unwrap();
    let variables = Regex::new(r"\$\{?\w+\}?").unwrap();
    let braces = Regex::new(r"\{[^}]*\}").unwrap();
    let ranges = Regex::new(r"\[[^\]]*\]").unwrap();
    let groupings =
        Regex::new(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)").unwrap();
    let identifier = Regex::new(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?").unwrap();
    let expr = strings.replace_all(expr, "");
    let expr = variables.replace_all(&expr, "");
    let expr = braces.replace_all(&expr, " ");
    let expr = ranges.replace_all(&expr, " ");
    let expr = groupings.replace_all(&expr, " ");
    identifier
        .captures_iter(&expr)
        .filter(|c| c.get(1).is_none()) // a function call
        .map(|c| c[0].trim().to_string())
        .filter(|name| !KEYWORDS.contains(&name.as_str()))
        .filter(|name| !name.chars().next().unwrap().is_ascii_digit())
        .filter(|name| !["e", "inf", "nan"].contains(&name.to_lowercase().as_str()))
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/study-mode-api.json"
    ))
    .expect("the dashboard is committed");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(dashboard["uid"], "study-mode-api");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("a PromQL expr").to_string());
        }
    }
    assert!(exprs.len() > 20, "the dashboard has its panels");
    exprs
}

fn alert_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/alerts.yaml"
    ))
    .expect("the alert rules are committed");
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let troubleshooting = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/troubleshooting.md"
    ))
    .expect("docs/troubleshooting.md exists");
    let anchors: BTreeSet<String> = troubleshooting
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| {
            h.trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    let mut exprs = Vec::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            let runbook = rule["annotations"]["runbook"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} has a runbook annotation"));
            let anchor = runbook
                .strip_prefix("docs/troubleshooting.md#")
                .unwrap_or_else(|| panic!("{name}: runbook points into docs/troubleshooting.md"));
            assert!(
                anchors.contains(anchor),
                "{name}: docs/troubleshooting.md has a section #{anchor}"
            );
            assert!(rule["annotations"]["summary"].is_string(), "{name} summary");
            exprs.push(rule["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(
        exprs.len() >= 7,
        "error rate, first token, pool, Redis, model, readiness, jobs"
    );
    exprs
}

#[test]
fn promql_names_are_found_and_functions_labels_and_strings_are_not() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, mode) (rate(a_seconds_bucket{job=~"$job",x="y_z"}[$__rate_interval]))) / clamp_min(sum(b_total), 1e-9) > 0.1 and on(instance) c"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["a_seconds_bucket", "b_total", "c"]
    );
}

#[tokio::test]
async fn after_a_turn_metrics_has_every_series_the_dashboard_and_the_alerts_use() {
    // Arrange: a real (fake) model, and Redis when the test environment has one.
    let model = fake_model::start(Script {
        deltas: vec!["Hello ".into(), "there.".into()],
        ..Script::default()
    })
    .await;
    let redis = test_redis_url().await;
    let mut vars = pairs(&[
        ("LESSONS_DIR", &crate::chatkit_client::lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "10"),
        ("TUTOR_MODEL_TEACH", "teach-model-1"),
    ]);
    if let Some(url) = &redis {
        vars.extend(pairs(&[("REDIS_URL", url)]));
    }
    let app = spawn_app_with(vars).await;

    // Act: one tutoring turn, then a scrape.
    let (_, events) = app.start_thread("student-metrics", "Hi").await;
    assert_eq!(assistant_text(&events), "Hello there.");
    let text = app.get("/metrics").await.text().await.unwrap();

    // Assert: every name the dashboard and the rules query is exposed.
    let have = exposed(&text);
    let mut wanted = BTreeSet::new();
    for expr in dashboard_exprs().iter().chain(alert_exprs().iter()) {
        wanted.extend(metric_names(expr));
    }
    let missing: Vec<_> = wanted
        .iter()
        .filter(|name| !have.contains(*name))
        // Without Redis the service has no Redis health series, by design.
        .filter(|name| redis.is_some() || !name.starts_with("redis_"))
        .collect();
    assert!(missing.is_empty(), "not on /metrics: {missing:?}");
    assert!(wanted.contains("tutoring_turns_total"));
    assert!(wanted.contains("gen_ai_server_time_to_first_token_seconds_bucket"));

    // And the turn is counted, with the model's reported tokens under the configured name.
    assert_eq!(
        value(
            &text,
            r#"tutoring_turns_total{mode="teach",outcome="completed"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"tutoring_turns_started_total{mode="teach"}"#),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_request_model="teach-model-1",gen_ai_token_type="input"}"#
        ),
        12.0
    );
    assert_eq!(
        value(
            &text,
            r#"gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_request_model="teach-model-1",gen_ai_token_type="output"}"#
        ),
        7.0
    );
    assert_eq!(
        value(
            &text,
            r#"gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat",gen_ai_request_model="teach-model-1"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"tutoring_model_requests_total{status="ok"}"#),
        1.0
    );
    assert_eq!(
        value(&text, "tutoring_streams_open "),
        0.0,
        "the stream ended"
    );
}
