//! In-process tests of the purge endpoint and the webhook, plus purge bodies and secrets.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};
use poem_openapi::OpenApiService;
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;
use crate::adapters::lesson_cache_memory::MemoryLessonCache;
use crate::app::lessons::{LessonMetrics, LessonSettings};
use crate::domain::ports::MockLessonSource;

const ADMIN: &str = "admin-secret-0123456789";
const HOOK: &str = "webhook-secret-0123456789";
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn secret_matches_only_the_configured_secret() {
    let secret = SecretString::from(ADMIN);

    assert!(secret_matches(Some(ADMIN), Some(&secret)));
    assert!(!secret_matches(
        Some("admin-secret-012345678"),
        Some(&secret)
    ));
    assert!(!secret_matches(Some(""), Some(&secret)));
    assert!(!secret_matches(None, Some(&secret)));
    assert!(!secret_matches(Some(ADMIN), None));
}

#[test]
fn purge_paths_reads_empty_and_empty_array_as_everything() {
    for body in [&b""[..], b"  \n", b"[]"] {
        assert!(purge_paths(body).unwrap().is_empty());
    }
}

#[test]
fn purge_paths_refuses_null_and_wrong_types() {
    for body in [
        &b"null"[..],
        b"{}",
        b"\"01-A/02-b\"",
        b"42",
        b"[null]",
        b"[1]",
    ] {
        let Err(ApiError::BadRequest(err)) = purge_paths(body) else {
            panic!("400 expected for {}", String::from_utf8_lossy(body));
        };
        assert_eq!(err.0.error.code, "bad_request");
    }
}

#[test]
fn purge_paths_normalises_and_dedupes() {
    let paths = purge_paths(br#"["docs/01-A/02-b.md", "01-A/02-b", "01-A/03-c"]"#).unwrap();

    assert_eq!(
        paths,
        [
            LessonPath::new_unchecked("01-A/02-b"),
            LessonPath::new_unchecked("01-A/03-c")
        ]
    );
}

#[test]
fn purge_paths_names_the_invalid_path() {
    let Err(ApiError::BadRequest(body)) = purge_paths(br#"["01-A/02-b", "../etc/passwd"]"#) else {
        panic!("400 expected");
    };

    assert_eq!(body.0.error.code, "invalid_lesson_path");
    assert!(body.0.error.message.contains("paths[1]"));
    assert!(body.0.error.message.contains("../etc/passwd"));
}

#[test]
fn purge_paths_refuses_other_shapes_and_more_than_a_thousand_paths() {
    let many = serde_json::to_vec(&vec!["a"; MAX_PURGE_PATHS + 1]).unwrap();
    let enough = serde_json::to_vec(&vec!["a"; MAX_PURGE_PATHS]).unwrap();

    assert!(matches!(
        purge_paths(br#"{"paths":[]}"#),
        Err(ApiError::BadRequest(_))
    ));
    assert!(matches!(purge_paths(b"[1]"), Err(ApiError::BadRequest(_))));
    assert!(matches!(purge_paths(&many), Err(ApiError::BadRequest(_))));
    assert!(purge_paths(&enough).is_ok());
}

/// The operator endpoints in-process, without the middleware stack.
fn client(vars: &[(&str, &str)]) -> BoxEndpoint<'static> {
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let config = Arc::new(Config::from_vars(vars).expect("valid configuration"));
    let mut source = MockLessonSource::new();
    source.expect_fetch().never();
    let lessons = Arc::new(LessonService::new(
        Arc::new(source),
        Arc::new(MemoryLessonCache::new(10)),
        LessonSettings::default(),
        LessonMetrics::new(None),
    ));
    let api = OpenApiService::new(AdminApi::new(Some(lessons), config.clone()), "test", "1");
    let auth = crate::http::auth::AuthState {
        authenticator: Arc::new(crate::app::auth::Authenticator::none()),
        config,
    };
    crate::http::auth::protect(api.into_endpoint(), auth)
        .map_to_response()
        .boxed()
}

async fn post(
    ep: &BoxEndpoint<'static>,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, Value) {
    let mut req = poem::Request::builder()
        .method(poem::http::Method::POST)
        .uri(uri.parse().unwrap());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp: Response = ep.get_response(req.body(body.to_vec())).await;
    let status = resp.status();
    let bytes = resp.into_body().into_vec().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn invalidate_cache_needs_the_right_secret() {
    let configured = client(&[("ADMIN_SECRET", ADMIN)]);
    let unconfigured = client(&[]);

    let none = post(&configured, "/admin/invalidate-cache", &[], b"").await;
    let wrong = post(
        &configured,
        "/admin/invalidate-cache",
        &[("x-admin-secret", "nope")],
        b"",
    )
    .await;
    let disabled = post(
        &unconfigured,
        "/admin/invalidate-cache",
        &[("x-admin-secret", ADMIN)],
        b"",
    )
    .await;

    assert_eq!(none.0, StatusCode::UNAUTHORIZED);
    assert_eq!(none.1["error"]["code"], "unauthorized");
    for (status, body) in [wrong, disabled] {
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "forbidden");
    }
}

#[tokio::test]
async fn invalidate_cache_purges_paths_without_a_json_content_type() {
    let ep = client(&[("ADMIN_SECRET", ADMIN)]);

    let (status, body) = post(
        &ep,
        "/admin/invalidate-cache",
        &[
            ("x-admin-secret", ADMIN),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        br#"["01-A/02-b"]"#,
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "invalidated_count": 0, "paths": ["01-A/02-b"]})
    );
}

#[tokio::test]
async fn github_webhook_is_unauthorized_without_a_secret_or_a_good_signature() {
    let configured = client(&[("GITHUB_WEBHOOK_SECRET", HOOK)]);
    let unconfigured = client(&[]);
    let body = br#"{"ref":"refs/heads/main"}"#;
    let signed = sign(HOOK, body);

    let unsigned = post(
        &configured,
        "/webhooks/github",
        &[
            ("x-github-event", "push"),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    let forged = post(
        &configured,
        "/webhooks/github",
        &[
            ("x-github-event", "push"),
            ("x-hub-signature-256", &sign("other-secret-0000000", body)),
        ],
        body,
    )
    .await;
    let disabled = post(
        &unconfigured,
        "/webhooks/github",
        &[("x-github-event", "push"), ("x-hub-signature-256", &signed)],
        body,
    )
    .await;

    for (status, body) in [unsigned, forged, disabled] {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn github_webhook_ignores_other_events_and_other_branches() {
    let ep = client(&[("GITHUB_WEBHOOK_SECRET", HOOK)]);
    let ping = br#"{"zen":"Keep it logically awesome."}"#;
    let dev = br#"{"ref":"refs/heads/dev","repository":{"full_name":"panaversity/agentfactory"},"commits":[{"modified":["apps/learn-app/docs/01-A/02-b.md"]}]}"#;

    let (ping_status, ping_body) = post(
        &ep,
        "/webhooks/github",
        &[
            ("x-github-event", "ping"),
            ("x-hub-signature-256", &sign(HOOK, ping)),
        ],
        ping,
    )
    .await;
    let (dev_status, _) = post(
        &ep,
        "/webhooks/github",
        &[
            ("x-github-event", "push"),
            ("x-hub-signature-256", &sign(HOOK, dev)),
        ],
        dev,
    )
    .await;

    assert_eq!(ping_status, StatusCode::OK);
    assert_eq!(
        ping_body,
        json!({"status": "ignored", "invalidated_count": 0, "paths": []})
    );
    assert_eq!(dev_status, StatusCode::OK);
}

#[tokio::test]
async fn github_webhook_purges_the_lessons_a_push_to_the_branch_touched() {
    let ep = client(&[("GITHUB_WEBHOOK_SECRET", HOOK)]);
    let body = br#"{"ref":"refs/heads/main","repository":{"full_name":"panaversity/agentfactory"},"commits":[{"added":["apps/learn-app/docs/01-A/02-b.md","README.md"],"modified":[],"removed":["apps/learn-app/docs/01-A/03-c.mdx"]}]}"#;

    let (status, out) = post(
        &ep,
        "/webhooks/github",
        &[
            ("x-github-event", "push"),
            ("x-hub-signature-256", &sign(HOOK, body)),
        ],
        body,
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["status"], "ok");
    assert_eq!(out["paths"], json!(["01-A/02-b", "01-A/03-c"]));
}
