//! One JSON error shape for every failure: unknown routes, wrong methods, malformed JSON,
//! oversized bodies and panics.

use poem::{Route, get, handler, post, web::Json};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_route};

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_route_is_a_404_json_error() {
    let app = spawn_app().await;
    let resp = app.get("/definitely/not/here").await;
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_error_shape(&body, "not_found");
    assert_eq!(
        body["error"]["request_id"],
        id.as_str(),
        "body and header carry the same id"
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_json_error() {
    let app = spawn_app().await;
    let resp = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    assert_error_shape(&resp.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn a_405_lists_the_methods_of_the_path_in_allow() {
    // Arrange
    let app = spawn_app().await;
    let c = &app.client;

    // Act
    let threads = c.put(app.url("/v1/threads")).send().await.unwrap();
    let thread = c.post(app.url("/v1/threads/thr_x")).send().await.unwrap();
    let spec = c.delete(app.url("/openapi.json")).send().await.unwrap();
    let metrics = c.post(app.url("/metrics")).send().await.unwrap();

    // Assert
    for (resp, allow) in [
        (threads, "GET, HEAD, POST"),
        (thread, "DELETE, GET, HEAD, PATCH"),
        (spec, "GET, HEAD"),
        (metrics, "GET, HEAD"),
    ] {
        assert_eq!(resp.status(), 405, "{}", resp.url());
        assert_eq!(resp.headers()["allow"], allow, "{}", resp.url());
        assert_error_shape(&resp.json().await.unwrap(), "method_not_allowed");
    }
}

#[tokio::test]
async fn body_over_the_limit_is_a_413_json_error() {
    let app = spawn_app().await;
    let big = vec![b'x'; (1 << 20) + 1];
    let resp = app
        .client
        .post(app.url("/health"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_error_shape(&resp.json().await.unwrap(), "payload_too_large");
}

#[derive(serde::Deserialize)]
struct Echo {
    text: String,
}

#[handler]
fn echo(Json(body): Json<Echo>) -> String {
    body.text
}

#[handler]
fn explode() -> String {
    panic!("boom")
}

fn probe_routes() -> Route {
    Route::new()
        .at("/echo", post(echo))
        .at("/panic", get(explode))
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_a_413_json_error() {
    let addr = spawn_route(probe_routes(), &[("MAX_BODY_BYTES", "2048")]).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'x'; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/echo"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_error_shape(&resp.json().await.unwrap(), "payload_too_large");
}

#[tokio::test]
async fn malformed_json_is_a_400_json_error_naming_the_problem() {
    let addr = spawn_route(probe_routes(), &[]).await;
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/echo"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_error_shape(&body, "bad_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("key must be a string"),
        "{body}"
    );
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_json_error_and_the_server_keeps_serving() {
    let addr = spawn_route(probe_routes(), &[]).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_error_shape(&body, "internal_error");
    assert!(
        !body.to_string().contains("boom"),
        "panic text is logged, not returned"
    );
    let again = client
        .post(format!("http://{addr}/echo"))
        .header("content-type", "application/json")
        .body(r#"{"text":"still here"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), "still here");
}

#[tokio::test]
async fn cors_preflight_allows_only_configured_origins() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/chatkit"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "600");
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_uppercase();
    for method in ["GET", "POST", "PATCH", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
