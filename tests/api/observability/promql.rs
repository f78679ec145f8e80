//! Just enough PromQL reading for the dashboard test: the metric names an expression reads and
//! the labels it reads on each (selectors and groupings), with the values it expects.

use std::collections::BTreeSet;

use regex::Regex;

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
pub fn metric_names(expr: &str) -> BTreeSet<String> {
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

/// Labels Prometheus adds when it scrapes (the target's), never on `/metrics` itself.
pub const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// A label an expression reads on a metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelUse {
    /// The metric.
    pub metric: String,
    /// The label.
    pub label: String,
    /// The values it must have: those of an exact matcher (`=`, `!=`) or of a regex matcher that
    /// is a plain alternation (`=~"l1|l2"`); `None` for a grouping, another regex or a variable.
    pub values: Option<Vec<String>>,
}

/// The labels `expr` reads: in selectors (`name{label="v"}`) and in groupings
/// (`sum by (label) (…name…)` and `without`), target labels left out.
pub fn label_uses(expr: &str) -> BTreeSet<LabelUse> {
    let selector = Regex::new(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}").unwrap();
    let matcher =
        Regex::new(r#"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)""#).unwrap();
    let words = Regex::new(r"^[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*$").unwrap();
    let grouping = Regex::new(r"\b(?:by|without)\s*\(([^)]*)\)\s*\(").unwrap();
    let mut uses = BTreeSet::new();
    for s in selector.captures_iter(expr) {
        for m in matcher.captures_iter(&s[2]) {
            let (label, op, value) = (&m[1], &m[2], &m[3]);
            let values = match op {
                "=" | "!=" if !value.contains('$') => Some(vec![value.to_string()]),
                "=~" | "!~" if words.is_match(value) => {
                    Some(value.split('|').map(str::to_string).collect())
                }
                _ => None,
            };
            uses.insert(LabelUse {
                metric: s[1].to_string(),
                label: label.to_string(),
                values,
            });
        }
    }
    for g in grouping.captures_iter(expr) {
        let open = g.get(0).unwrap().end() - 1;
        let scope = &expr[open..balanced_end(expr, open)];
        for label in g[1].split(',').map(str::trim).filter(|l| !l.is_empty()) {
            for metric in metric_names(scope) {
                uses.insert(LabelUse {
                    metric,
                    label: label.to_string(),
                    values: None,
                });
            }
        }
    }
    uses.retain(|u| !TARGET_LABELS.contains(&u.label.as_str()));
    uses
}

/// The index just past the parenthesis that closes the one at `open`.
fn balanced_end(expr: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in expr.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {expr}")
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

#[test]
fn labels_are_read_from_selectors_and_groupings_with_their_plain_values() {
    let uses = label_uses(
        r#"sum by (le, mode) (rate(a_bucket{job=~"$job",x="y",r=~"l1|l2",s=~"5..",t!="ok"}[5m])) / sum by (instance) (rate(b_total[5m]))"#,
    );
    let use_of = |metric: &str, label: &str, values: Option<&[&str]>| LabelUse {
        metric: metric.into(),
        label: label.into(),
        values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
    };
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        [
            use_of("a_bucket", "le", None),
            use_of("a_bucket", "mode", None),
            use_of("a_bucket", "r", Some(&["l1", "l2"])),
            use_of("a_bucket", "s", None),
            use_of("a_bucket", "t", Some(&["ok"])),
            use_of("a_bucket", "x", Some(&["y"])),
        ]
    );
}
