//! `docs/configuration.md`, rendered from the configuration code: every variable the service
//! reads ([`RawEnv`]'s fields), its default in each profile (what [`Config::describe`] prints for
//! an otherwise empty environment of that profile) and its meaning (the comment above it in
//! `.env.example`). `study-mode-api config-docs` writes it; a test fails when the committed file
//! differs, so neither the documentation nor `.env.example` can drift from the code.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::de::{self, Visitor};

use super::{Config, RawEnv};

/// `ALLOWED_ORIGINS` of the production profile's rendering (it has no default there).
const PRODUCTION_ORIGINS: &str = "https://app.example.com";

/// Prefixes of variables `.env.example` may document although [`RawEnv`] does not read them:
/// the standard `OTEL_*` variables, which the OpenTelemetry SDK reads itself.
const READ_ELSEWHERE_PREFIXES: &[&str] = &["OTEL_"];

/// The name `HOSTNAME` stands for in rendered defaults (it is the machine's, not a setting).
const HOST_PLACEHOLDER: &str = "HOSTNAME";

/// A variable as `.env.example` documents it.
#[derive(Debug)]
struct Documented {
    section: String,
    name: String,
    /// The value written there: the default when `commented` is false, an example otherwise.
    example: String,
    commented: bool,
    meaning: String,
}

/// Renders `docs/configuration.md` from `.env.example`'s text.
///
/// # Errors
/// A variable the code reads that `.env.example` does not document, or the reverse, or a
/// profile whose empty environment does not validate.
pub fn render_markdown(env_example: &str) -> Result<String, String> {
    let documented = parse_env_example(env_example);
    check_coverage(&documented)?;
    let dev = defaults(&[("APP_ENV", "development")])?;
    let prod = defaults(&[
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", PRODUCTION_ORIGINS),
    ])?;

    let mut out = String::new();
    out.push_str(
        "# Configuration\n\n\
         <!-- Generated from the configuration code by \
         `study-mode-api config-docs --output docs/configuration.md`: do not edit by hand. \
         A test fails when this file differs from what the code renders. -->\n\n\
         Every setting is an environment variable (a `.env` file in the working directory is \
         read too). All are optional: an unset or empty variable takes the default of the \
         profile chosen by `APP_ENV`. `study-mode-api check-config` validates the environment \
         and prints the effective values, secrets redacted; an invalid value stops the service \
         at start with every problem listed.\n\n\
         - **Development** (`APP_ENV=development`, the default) needs nothing: SQLite, \
         in-process cache and limiter, the offline tutor, the development principal.\n\
         - **Production** (`APP_ENV=production`) requires `ALLOWED_ORIGINS` (https origins) and \
         turns off every development convenience (see `APP_ENV` below).\n\n\
         `***` marks a secret; in Kubernetes these come from a Secret \
         (`deploy/k8s/base/secret.example.yaml`), everything else from the ConfigMap. \
         `.env.example` holds the same list as a starting file.\n",
    );
    let mut section = "";
    for var in &documented {
        if var.section != section {
            section = &var.section;
            let _ = write!(
                out,
                "\n## {section}\n\n| Variable | Development | Production | Meaning |\n\
                 |---|---|---|---|\n"
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            var.name,
            cell_value(var, dev.get(var.name.as_str()), false),
            cell_value(var, prod.get(var.name.as_str()), true),
            escape(&var.meaning),
        );
    }
    Ok(out)
}

/// A default as shown in the table.
fn cell_value(var: &Documented, described: Option<&String>, production: bool) -> String {
    if production && var.name == "ALLOWED_ORIGINS" {
        return "(required)".into();
    }
    let value = match described {
        Some(v) if production && v.contains(PRODUCTION_ORIGINS) => "(ALLOWED_ORIGINS)".into(),
        Some(v) => v.clone(),
        None if var.commented && var.example.is_empty() => "(unset)".into(),
        None if var.commented => return format!("(unset), e.g. `{}`", escape(&var.example)),
        None => var.example.clone(),
    };
    if value.starts_with('(') || value == "***" {
        escape(&value)
    } else {
        format!("`{}`", escape(&value))
    }
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The variables of `.env.example` in order: `# --- Section ---` headings, comment blocks, and
/// `NAME=value` or `# NAME=value` lines (a variable without a comment of its own shares the
/// previous one's).
fn parse_env_example(text: &str) -> Vec<Documented> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut meaning = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("# --- ") {
            section = rest.trim_end_matches(['-', ' ']).to_string();
            comment.clear();
            meaning.clear();
            continue;
        }
        if section.is_empty() {
            continue;
        }
        let (commented, body) = match trimmed.strip_prefix("# ") {
            Some(body) => (true, body),
            None => (false, trimmed),
        };
        if let Some((name, value)) = variable_line(body) {
            if !comment.is_empty() {
                meaning = comment.join(" ");
                comment.clear();
            }
            out.push(Documented {
                section: section.clone(),
                name: name.to_string(),
                example: value.to_string(),
                commented,
                meaning: meaning.clone(),
            });
        } else if let Some(text) = trimmed.strip_prefix('#') {
            comment.push(text.trim());
        } else if trimmed.is_empty() {
            comment.clear();
        }
    }
    out
}

/// `NAME=value` where NAME is an upper-case variable name.
fn variable_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (first_ok && rest_ok).then_some((name, value))
}

/// Every variable the code reads is documented once, and nothing else is.
fn check_coverage(documented: &[Documented]) -> Result<(), String> {
    let read: BTreeSet<String> = raw_env_fields()
        .iter()
        .map(|f| f.to_ascii_uppercase())
        .collect();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for var in documented {
        if !seen.insert(var.name.clone()) {
            problems.push(format!("{} is documented twice in .env.example", var.name));
        }
        let elsewhere = READ_ELSEWHERE_PREFIXES
            .iter()
            .any(|p| var.name.starts_with(p));
        if !read.contains(&var.name) && !elsewhere {
            problems.push(format!(
                "{} is in .env.example but the configuration code does not read it",
                var.name
            ));
        }
        if var.meaning.is_empty() {
            problems.push(format!("{} has no comment in .env.example", var.name));
        }
    }
    for name in read.difference(&seen) {
        problems.push(format!(
            "{name} is read by the configuration code but missing from .env.example \
             (add it with its default and a comment saying what it means)"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// What `check-config` prints for an environment holding only `vars`.
fn defaults(vars: &[(&str, &str)]) -> Result<HashMap<&'static str, String>, String> {
    let mut env: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    env.push(("HOSTNAME".into(), HOST_PLACEHOLDER.into()));
    let config = Config::from_vars(env).map_err(|e| e.to_string())?;
    Ok(config.describe().into_iter().collect())
}

/// The field names of [`RawEnv`] (the variables the code reads), as serde declares them.
fn raw_env_fields() -> &'static [&'static str] {
    let mut probe = FieldProbe(&[]);
    let _ = <RawEnv as serde::Deserialize>::deserialize(&mut probe);
    probe.0
}

/// A deserializer that only records the field list of the struct asked of it.
struct FieldProbe(&'static [&'static str]);

impl<'de> de::Deserializer<'de> for &mut FieldProbe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only the field names are probed"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(path: &str) -> String {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
    }

    #[test]
    fn committed_configuration_doc_is_the_rendered_one() {
        let rendered =
            render_markdown(&repo_file(".env.example")).unwrap_or_else(|e| panic!("{e}"));
        let committed = repo_file("docs/configuration.md");
        assert!(
            rendered == committed,
            "docs/configuration.md is out of date: run \
             `cargo run --offline --quiet -- config-docs --output docs/configuration.md`"
        );
    }

    #[test]
    fn every_variable_read_is_probed() {
        let fields = raw_env_fields();
        assert!(fields.contains(&"database_url"));
        assert!(fields.contains(&"shutdown_grace_secs"));
    }

    #[test]
    fn an_undocumented_variable_is_reported() {
        let problems = check_coverage(&parse_env_example("# --- S ---\n# Bind port.\nPORT=1\n"))
            .expect_err("most variables are missing");
        assert!(problems.contains("DATABASE_URL is read by the configuration code"));
        assert!(!problems.lines().any(|l| l.starts_with("PORT ")));
    }

    #[test]
    fn otel_variables_may_be_documented_although_the_sdk_reads_them() {
        let problems = check_coverage(&parse_env_example(
            "# --- S ---\n# Resource attributes.\n# OTEL_RESOURCE_ATTRIBUTES=a=b\n",
        ))
        .expect_err("most variables are missing");
        assert!(
            !problems
                .lines()
                .any(|l| l.starts_with("OTEL_RESOURCE_ATTRIBUTES")),
            "{problems}"
        );
    }

    #[test]
    fn variables_share_the_comment_above_them() {
        let vars =
            parse_env_example("# --- Db ---\n# Parts of a URL.\n# A=1\nB=2\n\n# Other.\nC=\n");
        let got: Vec<_> = vars
            .iter()
            .map(|v| (v.name.as_str(), v.commented, v.meaning.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("A", true, "Parts of a URL."),
                ("B", false, "Parts of a URL."),
                ("C", false, "Other.")
            ]
        );
    }
}
