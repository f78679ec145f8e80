//! The database goes away in the middle of sessions: refreshes and sign-ins answer 503 (never a
//! 401 that would sign the student out), an access token keeps working on its signature, and
//! nothing is consumed or half-written: the same refresh token works once the database is back.

use sea_orm::sqlx::{Connection, PgConnection, Row};

use super::Auth;
use crate::fake_oauth::follow_authorize;
use crate::helpers::{
    fresh_postgres_database, target_of, test_database_url, via, wait_for_readiness,
};
use crate::proxy::TcpProxy;

/// Refresh tokens of the database at `url` that are live (neither replaced nor revoked).
async fn live_tokens(url: &str) -> i64 {
    let mut conn = PgConnection::connect(url).await.expect("database");
    sea_orm::sqlx::query(
        "SELECT count(*) AS n FROM refresh_tokens WHERE replaced_by IS NULL AND revoked_at IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count")
    .get::<i64, _>("n")
}

#[tokio::test]
async fn a_database_outage_answers_503_and_consumes_no_refresh_token() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    // Arrange: a session, with the service reaching Postgres through a proxy the test cuts
    let url = fresh_postgres_database(&admin).await;
    let proxy = TcpProxy::start(target_of(&url)).await;
    let proxied = via(&url, proxy.addr);
    let auth = Auth::start(&[
        ("DATABASE_URL", proxied.as_str()),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
        ("REFRESH_REUSE_GRACE_SECS", "0"),
    ])
    .await;
    let (access, refresh) = auth.tokens("github").await;
    assert_eq!(live_tokens(&url).await, 1);
    let (location, cookie) = auth.begin("github").await;
    let (code, state) = follow_authorize(&location).await;

    // Act: the database goes away
    proxy.cut();
    let (refreshed, body) = auth.refresh_body(&refresh).await;
    let signed_in = auth.callback("github", &code, &state, Some(&cookie)).await;
    let (quota, _) = auth.get_as(&access, "/v1/rate-limit").await;

    // Assert: unavailable, not refused; the access token is served on its signature
    assert_eq!(refreshed, 503, "{body}");
    assert_eq!(body["error"]["code"], "auth_unavailable");
    assert_eq!(signed_in.status(), 503);
    assert_eq!(
        quota, 200,
        "a valid access token outlives a database outage"
    );

    // Act: the database comes back
    proxy.restore();
    let (status, ready) = wait_for_readiness(&auth.app, 200, 20).await;
    assert_eq!(status, 200, "{ready}");
    let (refreshed, body) = auth.refresh_body(&refresh).await;

    // Assert: the same refresh token still works, once; one live token per session
    assert_eq!(
        refreshed, 200,
        "the failed attempt consumed nothing: {body}"
    );
    assert_eq!(live_tokens(&url).await, 1);
    let (again, _) = auth.refresh_body(&refresh).await;
    assert_eq!(again, 401, "and now it is rotated");
    assert_eq!(live_tokens(&url).await, 0, "reuse revoked the session");
}
