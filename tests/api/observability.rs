//! The operator's view: after a tutoring turn, `/metrics` carries every series (and every label)
//! the Grafana dashboard (`deploy/grafana/study-mode-api.json`) and the alert rules
//! (`deploy/prometheus/alerts.yaml`) query, and turns, model requests, quotas, authentication
//! and book-sync tasks are counted with closed-set labels.

mod auth;
mod dashboard;
mod jobs;
mod model;
mod promql;
mod quotas;
mod turns;

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use crate::fake_model::FakeModel;
use crate::helpers::{TestApp, pairs, spawn_app_with};

/// One sample of a Prometheus text exposition.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Every sample of a Prometheus text exposition.
fn samples(text: &str) -> Vec<Sample> {
    let line = Regex::new(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$").unwrap();
    let pair = Regex::new(r#"([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)""#).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let c = line
                .captures(l)
                .unwrap_or_else(|| panic!("not a sample: {l}"));
            Sample {
                name: c[1].to_string(),
                labels: c.get(2).map_or_else(BTreeMap::new, |labels| {
                    pair.captures_iter(labels.as_str())
                        .map(|p| (p[1].to_string(), p[2].to_string()))
                        .collect()
                }),
                value: c[3].parse().unwrap_or_else(|_| panic!("not a number: {l}")),
            }
        })
        .collect()
}

/// Sample names in a Prometheus text exposition (histograms as `_bucket`, `_sum`, `_count`).
fn exposed(text: &str) -> BTreeSet<String> {
    samples(text).into_iter().map(|s| s.name).collect()
}

/// The value of the one sample `line_start` begins (labels as exposed, sorted by name).
fn value(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no sample {line_start}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The sum of the samples of `name` that carry every pair of `labels` (0 when none does);
/// panics when `name` has no sample at all.
fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let of_name: Vec<Sample> = samples(text)
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert!(!of_name.is_empty(), "{name} is not on /metrics");
    of_name
        .iter()
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// `GET /metrics`.
async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Scrapes until the samples of `name` with `labels` total `want` (a turn is counted when it
/// ends, after its stream); fails after 30 s.
async fn scrape_until(app: &TestApp, name: &str, labels: &[(&str, &str)], want: f64) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = scrape(app).await;
        let seen = total(&text, name, labels);
        if seen == want {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}{labels:?} stayed at {seen}, not {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A service tutoring with `model` (the sample lessons, SQLite).
async fn spawn_with_model(model: &FakeModel) -> TestApp {
    spawn_app_with(pairs(&[
        ("LESSONS_DIR", &crate::chatkit_client::lessons_dir()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &model.base_url()),
        ("MODEL_TIMEOUT_SECS", "10"),
        ("TUTOR_MODEL_TEACH", "teach-model-1"),
    ]))
    .await
}

#[test]
fn samples_are_read_with_their_labels_and_totals_sum_the_matching_ones() {
    let text = "# HELP a_total x\n# TYPE a_total counter\n\
                a_total{kind=\"jwt\",reason=\"expired\"} 2\n\
                a_total{kind=\"opaque\",reason=\"expired\"} 1\n\
                a_total{kind=\"jwt\",reason=\"none\"} 5\nb 0.5\n";
    assert_eq!(total(text, "a_total", &[("reason", "expired")]), 3.0);
    assert_eq!(total(text, "a_total", &[("kind", "jwt")]), 7.0);
    assert_eq!(total(text, "a_total", &[("kind", "api_key")]), 0.0);
    assert_eq!(total(text, "b", &[]), 0.5);
    assert_eq!(
        exposed(text).into_iter().collect::<Vec<_>>(),
        ["a_total", "b"]
    );
}
