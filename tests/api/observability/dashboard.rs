//! The dashboard and the alert rules query only series and labels `/metrics` has.

use std::collections::{BTreeMap, BTreeSet};

use super::promql::{LabelUse, label_uses, metric_names};
use super::{exposed, samples, value};
use crate::chatkit_client::assistant_text;
use crate::fake_model::{self, Script};
use crate::helpers::{pairs, spawn_app_with, test_redis_url};

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

/// Labels whose values come from traffic (which routes were called, which statuses answered),
/// not from a closed set created at zero: their names are checked, their values are not.
const TRAFFIC_LABELS: [(&str, &str); 2] = [
    ("http_requests_total", "route"),
    ("http_requests_total", "status"),
];

/// The label uses `text` does not satisfy: a label its metric does not have, or a value it never
/// takes. Metrics absent from `text` are left to the name check.
fn wrong_labels<'a>(text: &str, uses: &'a BTreeSet<LabelUse>) -> Vec<&'a LabelUse> {
    let mut labels: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for sample in samples(text) {
        let of_metric = labels.entry(sample.name).or_default();
        for (label, value) in sample.labels {
            of_metric.entry(label).or_default().insert(value);
        }
    }
    uses.iter()
        .filter(|u| {
            let Some(of_metric) = labels.get(&u.metric) else {
                return false;
            };
            let Some(seen) = of_metric.get(&u.label) else {
                return true;
            };
            let traffic = TRAFFIC_LABELS.contains(&(u.metric.as_str(), u.label.as_str()));
            !traffic && u.values.iter().flatten().any(|value| !seen.contains(value))
        })
        .collect()
}

#[test]
fn a_label_the_series_lacks_or_a_value_it_never_takes_is_wrong() {
    let text = "a_total{kind=\"x\"} 1\nhttp_requests_total{route=\"r\",status=\"200\"} 1\n";
    let use_of = |metric: &str, label: &str, values: Option<&[&str]>| LabelUse {
        metric: metric.into(),
        label: label.into(),
        values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
    };
    let uses: BTreeSet<LabelUse> = [
        use_of("a_total", "kind", Some(&["x"])),
        use_of("a_total", "kind", Some(&["x", "y"])),
        use_of("a_total", "reason", None),
        use_of("b_total", "kind", None),
        use_of("http_requests_total", "status", Some(&["503"])),
    ]
    .into_iter()
    .collect();
    let wrong: Vec<_> = wrong_labels(text, &uses).into_iter().cloned().collect();
    assert_eq!(
        wrong,
        [
            use_of("a_total", "kind", Some(&["x", "y"])),
            use_of("a_total", "reason", None),
        ]
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

    // And every label they read is on those series, with the values they match on.
    let uses: BTreeSet<LabelUse> = dashboard_exprs()
        .iter()
        .chain(alert_exprs().iter())
        .flat_map(|expr| label_uses(expr))
        .collect();
    let wrong = wrong_labels(&text, &uses);
    assert!(wrong.is_empty(), "labels not on /metrics: {wrong:#?}");
    assert!(
        uses.iter()
            .any(|u| u.metric == "auth_attempts_total" && u.label == "reason")
    );
    assert!(
        uses.iter()
            .any(|u| u.metric == "study_job_tasks_total" && u.label == "outcome")
    );

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
