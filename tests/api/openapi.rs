//! The committed spec is generated from the code and complete.

use std::path::Path;

const REGENERATE: &str = "cargo run --quiet -- openapi --output openapi/openapi.yaml";

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; generate it with: {REGENERATE}",
            path.display()
        )
    })
}

#[test]
fn committed_spec_matches_the_code() {
    let generated = study_mode_api::http::spec_yaml();
    assert!(
        generated == committed(),
        "openapi/openapi.yaml is stale; regenerate it with:\n    {REGENERATE}\n"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_a_summary_and_an_error_response() {
    let spec: serde_json::Value = serde_json::from_str(&study_mode_api::http::spec_json()).unwrap();
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(
                op["operationId"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: operationId"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: tag"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: summary"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|code| code.starts_with('4') || code.starts_with('5')),
                "{at}: documents its error responses"
            );
        }
    }
}

#[tokio::test]
async fn openapi_command_prints_exactly_the_committed_spec() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_study-mode-api"))
        .arg("openapi")
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed(),
        "`openapi` output differs from the file"
    );
}

#[tokio::test]
async fn the_served_spec_names_the_public_base_url_as_its_server() {
    // Arrange
    let app = crate::helpers::spawn_app_with(crate::helpers::pairs(&[(
        "PUBLIC_BASE_URL",
        "https://study.example.com",
    )]))
    .await;

    // Act
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Assert
    assert_eq!(spec["servers"][0]["url"], "https://study.example.com");
}
