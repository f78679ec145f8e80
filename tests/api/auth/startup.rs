//! Deployments that must not start: production accepting JWTs without `JWT_ISSUER` /
//! `JWT_AUDIENCE`, with a plain-http upstream, or with a non-https browser origin.

use crate::cli::run;

/// `check-config` with `env`: exit code and stderr.
async fn check(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = run(&["check-config"], env).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PRODUCTION: [(&str, &str); 2] = [
    ("APP_ENV", "production"),
    ("ALLOWED_ORIGINS", "https://book.example"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    PRODUCTION.iter().chain(extra).copied().collect()
}

#[tokio::test]
async fn production_accepting_jwts_without_an_audience_refuses_to_start_naming_it() {
    let (code, stderr) = check(&with(&[
        ("SSO_URL", "https://sso.example"),
        ("JWT_ISSUER", "https://sso.example"),
    ]))
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("JWT_AUDIENCE"), "{stderr}");
    let (code, stderr) = check(&with(&[
        ("SSO_URL", "https://sso.example"),
        ("JWT_ISSUER", "https://sso.example"),
        ("ALLOW_UNCHECKED_JWT_CLAIMS", "aud"),
    ]))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn production_with_a_plaintext_upstream_refuses_to_start_naming_it() {
    let (code, stderr) = check(&with(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")])).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("OPENAI_BASE_URL"), "{stderr}");
    let (code, stderr) = check(&with(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("ALLOW_INSECURE_UPSTREAMS", "OPENAI_BASE_URL"),
    ]))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn production_with_a_plain_http_origin_refuses_to_start() {
    let (code, stderr) = check(&[
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", "http://book.example"),
    ])
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("ALLOWED_ORIGINS"), "{stderr}");
}
