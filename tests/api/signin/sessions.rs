//! Sessions: rotation with reuse detection, expiry, a disabled account, CSRF on the cookie,
//! and who is one user across providers.

use chrono::{Duration, Utc};
use reqwest::header::{COOKIE, ORIGIN};
use serde_json::json;
use study_mode_api::adapters::sql::Database;
use study_mode_api::adapters::sql::refresh_tokens::SqlRefreshTokenStore;
use study_mode_api::adapters::sql::users::SqlUserStore;
use study_mode_api::domain::identity::{RefreshTokenRecord, hash_refresh_token};
use study_mode_api::domain::ports::{RefreshTokenStore, UserStore};

use super::{Auth, FRONT_END};
use crate::helpers::{pairs, test_config};

/// The test service's own database, opened a second time.
async fn database(auth: &Auth) -> Database {
    let url = auth.database_url();
    Database::connect(&test_config(pairs(&[("DATABASE_URL", &url)])).database)
        .await
        .expect("database opens")
}

#[tokio::test]
async fn a_rotated_refresh_token_presented_again_revokes_the_whole_session() {
    // Arrange: no grace, so an immediate replay is reuse
    let auth = Auth::start(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let (_, first) = auth.tokens("github").await;
    let (status, body) = auth.refresh_body(&first).await;
    assert_eq!(status, 200);
    let second = body["refresh_token"].as_str().unwrap().to_string();
    let access = body["access_token"].as_str().unwrap().to_string();
    let (status, _) = auth.get_as(&access, "/auth/me").await;
    assert_eq!(status, 200);
    // Act: the old token comes back (stolen, or replayed)
    let (status, body) = auth.refresh_body(&first).await;
    // Assert: refused as reuse, and every token of the session is dead
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "refresh_token_reused");
    let (status, body) = auth.refresh_body(&second).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = auth.get_as(&access, "/auth/me").await;
    assert_eq!(
        status, 401,
        "the session's access tokens die with it: {body}"
    );
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_keep_the_session() {
    // Arrange: the default grace of 10 s
    let auth = Auth::start(&[]).await;
    let (_, token) = auth.tokens("github").await;
    // Act: two refreshes with the same token at once
    let (a, b) = tokio::join!(auth.refresh_body(&token), auth.refresh_body(&token));
    // Assert: one wins; the other is refused without ending the session
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
    let winner = if a.0 == 200 { &a.1 } else { &b.1 };
    let loser = if a.0 == 200 { &b.1 } else { &a.1 };
    assert_eq!(loser["error"]["code"], "invalid_token", "{loser}");
    let next = winner["refresh_token"].as_str().unwrap();
    let (status, body) = auth.refresh_body(next).await;
    assert_eq!(status, 200, "the session lives on: {body}");
    // The same replay after the grace would be reuse; without grace it is at once.
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    // Arrange: a token of a real user, stored as expired an hour ago
    let auth = Auth::start(&[]).await;
    let (access, _) = auth.tokens("github").await;
    let (_, me) = auth.get_as(&access, "/auth/me").await;
    let db = database(&auth).await;
    let token = "rt_expiredexpiredexpiredexpiredexpiredexpire";
    SqlRefreshTokenStore::new(db.clone())
        .insert(&RefreshTokenRecord {
            hash: hash_refresh_token(token),
            family_id: "expired-family".into(),
            user_id: me["user_id"].as_str().unwrap().into(),
            issued_at: Utc::now() - Duration::days(8),
            expires_at: Utc::now() - Duration::hours(1),
            replaced_by: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    // Act
    let (status, body) = auth.refresh_body(token).await;
    // Assert
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["message"], "refresh token expired");
    let (status, _) = auth.refresh_body("rt_unknown").await;
    assert_eq!(status, 401);
    let (status, _) = auth.refresh_body("not a token at all").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh_sign_in_or_use_its_access_tokens() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let (access, refresh) = auth.tokens("github").await;
    let (_, me) = auth.get_as(&access, "/auth/me").await;
    let user_id = me["user_id"].as_str().unwrap();
    let db = database(&auth).await;
    // Act: what `study-mode-api users disable` does
    SqlUserStore::new(db.clone())
        .set_disabled(user_id, Some(Utc::now()))
        .await
        .unwrap();
    SqlRefreshTokenStore::new(db)
        .revoke_user(user_id, Utc::now())
        .await
        .unwrap();
    // Assert
    let (status, _) = auth.refresh_body(&refresh).await;
    assert_eq!(status, 401);
    let (location, cookie) = auth.begin("github").await;
    let (code, state) = crate::fake_oauth::follow_authorize(&location).await;
    let resp = auth.callback("github", &code, &state, Some(&cookie)).await;
    assert_eq!(resp.status(), 403);
    // The access token stops at a replica's next session check (at most 30 s later): one that
    // has not checked this session yet refuses it at once.
    let replica = auth.replica().await;
    let resp = auth
        .http
        .get(replica.url("/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn the_refresh_cookie_only_works_from_an_allowed_origin() {
    // Arrange
    let auth = Auth::start(&[]).await;
    let browser = auth.sign_in("github").await;
    // Act
    let resp = auth
        .http
        .post(auth.app.url("/auth/refresh"))
        .header(COOKIE, format!("sm_refresh={}", browser.refresh_cookie))
        .header(ORIGIN, "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(resp.status(), 403);
    let (status, _, _) = auth.refresh_cookie(&browser.refresh_cookie).await;
    assert_eq!(status, 200, "the refused attempt did not spend the token");
    let _ = FRONT_END;
}

#[tokio::test]
async fn one_user_per_address_only_when_both_providers_verified_it() {
    // Arrange: GitHub and Google both verify ada@example.org
    let auth = Auth::start(&[]).await;
    auth.google
        .set_user("g-ada", Some("ada@example.org"), true, Some("Ada L."));
    let (github_access, _) = auth.tokens("github").await;
    let (google_access, _) = auth.tokens("google").await;
    let (_, by_github) = auth.get_as(&github_access, "/auth/me").await;
    let (_, by_google) = auth.get_as(&google_access, "/auth/me").await;
    // Assert: one user, two providers
    assert_eq!(by_github["user_id"], by_google["user_id"]);
    assert_eq!(by_google["providers"], json!(["github", "google"]));

    // Arrange: Google does not verify bob@example.org, GitHub does
    auth.github
        .set_user(2002, "bob", None, vec![("bob@example.org", true, true)]);
    auth.google
        .set_user("g-bob", Some("bob@example.org"), false, Some("Bob?"));
    let (github_access, _) = auth.tokens("github").await;
    let (google_access, _) = auth.tokens("google").await;
    let (_, by_github) = auth.get_as(&github_access, "/auth/me").await;
    let (_, by_google) = auth.get_as(&google_access, "/auth/me").await;
    // Assert: two users; the unverified address took nothing over
    assert_ne!(by_github["user_id"], by_google["user_id"]);
    assert_eq!(
        by_github["name"], "bob",
        "GitHub login when there is no name"
    );

    // Arrange: GitHub has no verified primary address
    auth.github.set_user(
        3003,
        "carol",
        Some("Carol"),
        vec![("carol@example.org", true, false)],
    );
    auth.google
        .set_user("g-carol", Some("carol@example.org"), true, Some("Carol"));
    let (github_access, _) = auth.tokens("github").await;
    let (google_access, _) = auth.tokens("google").await;
    let (_, by_github) = auth.get_as(&github_access, "/auth/me").await;
    let (_, by_google) = auth.get_as(&google_access, "/auth/me").await;
    assert_ne!(by_github["user_id"], by_google["user_id"]);
}
