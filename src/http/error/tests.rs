use poem::IntoResponse;

use super::*;
use crate::app::study::StudyError;

#[test]
fn an_unavailable_database_is_a_503_with_retry_after_never_a_500() {
    // Arrange
    let err = ApiError::from(StudyError::StoreUnavailable);
    // Act
    let resp = err.into_response();
    // Assert
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "2");
}

/// An operator looking up a code they were sent finds it by name in the troubleshooting guide.
#[test]
fn every_error_code_is_explained_in_the_troubleshooting_guide() {
    let guide = include_str!("../../../docs/troubleshooting.md");
    let missing: Vec<_> = ERROR_CODES
        .iter()
        .filter(|code| !guide.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md (Error codes) does not name: {missing:?}"
    );
}
