//! API keys end to end: made with the CLI, used over HTTP, scoped, revoked.

use study_mode_api::domain::api_key::parse_key;

use super::{list_threads, spawn_verifying};
use crate::cli::run;
use crate::fake_sso::FakeSso;
use crate::helpers::TestApp;

const ADMIN_SECRET: &str = "operator-secret-0123456789";

/// `keys create` against the service's database: the printed key.
pub async fn create_key(database_url: &str, scopes: &str) -> String {
    let out = run(
        &[
            "keys", "create", "--name", "ci", "--scopes", scopes, "--tier", "premium",
        ],
        &[("DATABASE_URL", database_url)],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|line| parse_key(line).is_some())
        .expect("the key is printed")
        .to_string()
}

async fn purge(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut req = app.client.post(app.url("/admin/invalidate-cache"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_key_is_created_used_scoped_and_revoked() {
    let sso = FakeSso::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.sqlite?mode=rwc", dir.path().display());
    let app = spawn_verifying(
        &sso,
        &[
            ("DATABASE_URL", &url),
            ("ADMIN_SECRET", ADMIN_SECRET),
            // Two purges of everything in a row below: not throttled here.
            ("LESSON_PURGE_ALL_MIN_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    let api = create_key(&url, "api").await;
    let purger = create_key(&url, "lessons:purge").await;

    // An `api` key opens the student endpoints, in either header.
    assert_eq!(list_threads(&app, &[("x-api-key", &api)]).await.0, 200);
    let bearer = format!("Bearer {api}");
    assert_eq!(
        list_threads(&app, &[("authorization", &bearer)]).await.0,
        200
    );
    // Two credentials are refused, even when one of them is good: each would need verifying.
    let two = [
        ("x-api-key", api.as_str()),
        ("authorization", "Bearer not-a-token"),
    ];
    assert_eq!(list_threads(&app, &two).await.0, 401);
    // Wrong scope either way is 403.
    assert_eq!(purge(&app, &[("x-api-key", &api)]).await, 403);
    let (status, _, body) = list_threads(&app, &[("x-api-key", &purger)]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // The purge key and the operator secret open the purge.
    assert_eq!(purge(&app, &[("x-api-key", &purger)]).await, 200);
    assert_eq!(purge(&app, &[("x-admin-secret", ADMIN_SECRET)]).await, 200);

    // A forged secret for a real id reads like an unknown key.
    let id = parse_key(&api).unwrap().id;
    let forged = format!("sk_{id}_{}", "A".repeat(40));
    let (status, challenge, body) = list_threads(&app, &[("x-api-key", &forged)]).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("unknown API key"))
    );
    assert!(challenge.contains("invalid_token"));

    // The list shows when the key was last used (recorded in the background).
    let mut used = false;
    for _ in 0..50 {
        let table = String::from_utf8_lossy(
            &run(&["keys", "list"], &[("DATABASE_URL", &url)])
                .await
                .stdout,
        )
        .into_owned();
        let row = table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string();
        // Unused and unrevoked: two "-" cells; used: only the revoked one.
        if row.split_whitespace().filter(|cell| *cell == "-").count() == 1 {
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used, "last used recorded");

    // Revoked: refused at once.
    let out = run(&["keys", "revoke", id], &[("DATABASE_URL", &url)]).await;
    assert!(out.status.success());
    let (status, _, body) = list_threads(&app, &[("x-api-key", &api)]).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("API key revoked"))
    );
}
