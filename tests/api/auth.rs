//! Identity end to end: tokens from a fake SSO, opaque tokens, API keys, user isolation.

pub mod api_keys;
mod hardening;
mod isolation;
mod preauth;
mod startup;
mod tokens;

use serde_json::Value;

use crate::chatkit_client::lessons_dir;
use crate::fake_sso::FakeSso;
use crate::helpers::{TestApp, pairs, spawn_with_config, test_config};

/// A production-profile service verifying tokens from `sso`, plus `extra` variables. The fake
/// SSO speaks plain http on 127.0.0.1, which production refuses unless told otherwise.
pub async fn spawn_verifying(sso: &FakeSso, extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut vars = pairs(&[
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", "https://book.example"),
        ("ALLOW_INSECURE_UPSTREAMS", "SSO_URL"),
        ("LESSONS_DIR", &lessons_dir()),
        (
            "DATABASE_URL",
            &format!("sqlite://{}/auth.sqlite?mode=rwc", dir.path().display()),
        ),
    ]);
    vars.extend(sso.env());
    vars.retain(|(name, _)| !extra.iter().any(|(k, _)| k == name));
    vars.extend(pairs(extra));
    let mut app = spawn_with_config(test_config(vars)).await;
    app._dir = Some(dir);
    app
}

/// `GET /v1/threads` with `headers`: status, `WWW-Authenticate`, body.
pub async fn list_threads(app: &TestApp, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let mut req = app.client.get(app.url("/v1/threads"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("request reaches the service");
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

/// `GET /v1/threads` with a bearer token.
pub async fn with_token(app: &TestApp, token: &str) -> (u16, String, Value) {
    list_threads(app, &[("authorization", &format!("Bearer {token}"))]).await
}
