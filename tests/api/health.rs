//! Liveness, readiness, metrics and the landing document on the embedded defaults.

use crate::helpers::{pairs, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_answers_200_with_the_version() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let (status, body) = app.get_json("/health").await;
    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn readiness_reports_the_sqlite_database_up_and_the_file_exists() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let checks = body["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "no Redis configured: {body}");
    assert_eq!(checks[0]["name"], "database");
    assert_eq!(checks[0]["status"], "up");
    assert!(checks[0]["latency_ms"].is_u64());
    let dir = app._dir.as_ref().expect("tempdir");
    assert!(
        dir.path().join("nested/app.sqlite").exists(),
        "SQLite file and its folder are created"
    );
}

#[tokio::test]
async fn root_names_the_service_and_links_to_docs() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "study-mode-api");
    assert_eq!(body["links"]["docs"], "/docs");
}

#[tokio::test]
async fn docs_and_openapi_documents_load() {
    let app = spawn_app().await;
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "interactive docs page"
    );
    let (status, spec) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/health/ready"].is_object());
    let yaml = app.get("/openapi.yaml").await;
    assert_eq!(yaml.status(), 200);
    assert!(yaml.text().await.unwrap().starts_with("openapi:"));
}

#[tokio::test]
async fn docs_are_off_when_disabled() {
    let app = spawn_app_with(pairs(&[("DOCS_ENABLED", "false")])).await;
    assert_eq!(app.get("/docs").await.status(), 404);
    assert_eq!(
        app.get("/openapi.json").await.status(),
        200,
        "the spec itself stays public"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/no/such/route").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="getLiveness",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("http_requests_in_flight"));
    assert!(
        text.contains(r#"db_pool_connections{state="max"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"db_pool_connections{state="waiting"}"#));
    assert!(text.contains("db_pool_saturated 0"), "{text}");
    assert!(text.contains("db_pool_acquire_timeouts_total 0"), "{text}");
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_generated_otherwise() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let generated = replaced.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36, "a UUID");
}

#[tokio::test]
async fn shutdown_completes_when_idle() {
    let app = spawn_app().await;
    app.get("/health").await;
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), app.stop()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "server stops cleanly on the signal"
    );
}

#[tokio::test]
async fn every_response_carries_security_headers_and_no_server_banner() {
    let app = spawn_app().await;
    for path in ["/health", "/no/such/route"] {
        let resp = app.get(path).await;
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer", "{path}");
        assert!(resp.headers().get("server").is_none(), "{path}");
    }
}
