//! `study-mode-api db copy`: a SQLite database filled through the service (threads with
//! offline-tutor turns, feedback, an API key, a synced book) moved into a fresh Postgres
//! database, which then serves the same threads; the copy is safe to run again and refuses a
//! target that already holds rows.

use serde_json::{Value, json};

use crate::book_sync::{ADMIN, write_book};
use crate::cli::run;
use crate::helpers::{
    TestApp, fresh_postgres_database, pairs, spawn_app_with, spawn_with_config, test_config,
    test_database_url,
};
use crate::signin::Auth;

const STUDENT: &str = "copy-student";
const LESSON: &str = "01-Intro/01-Basics/01-agents";

fn book() -> Vec<(&'static str, String)> {
    let filler = "This paragraph adds plain context so the section is long enough to stand alone. "
        .repeat(3);
    vec![
        (
            "01-Intro/01-Basics/01-agents.md",
            format!(
                "---\ntitle: Agents\n---\n\nAn agent pursues a goal with a model. {filler}\n\n\
                 ## The agent loop\n\nThe loop observes, decides and acts. {filler}\n"
            ),
        ),
        (
            "01-Intro/01-Basics/02-models.md",
            format!(
                "---\ntitle: Models\n---\n\nA model predicts the next token. {filler}\n\n\
                 ## Automobiles\n\nAn automobile has four wheels. {filler}\n"
            ),
        ),
    ]
}

fn vars(book: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = pairs(&[
        ("LESSONS_DIR", book),
        ("ADMIN_SECRET", ADMIN),
        ("JOB_BACKOFF_MIN_MS", "10"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("WORKER_IN_PROCESS", "true"),
    ]);
    vars.extend(pairs(extra));
    vars
}

async fn send(app: &TestApp, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = app;
    let resp = req.header("x-user-id", STUDENT).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A thread studying [`LESSON`] with one turn of the offline tutor; its id and the tutor's item.
async fn studied_thread(app: &TestApp, title: &str) -> (String, String) {
    let c = &app.client;
    let (status, thread) = send(
        app,
        c.post(app.url("/v1/threads"))
            .json(&json!({"lesson_path": LESSON})),
    )
    .await;
    assert_eq!(status, 201, "{thread}");
    let id = thread["id"].as_str().unwrap().to_string();
    let (status, body) = send(
        app,
        c.post(app.url(&format!("/v1/threads/{id}/messages")))
            .json(&json!({"text": "Start please"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        app,
        c.patch(app.url(&format!("/v1/threads/{id}")))
            .json(&json!({"title": title})),
    )
    .await;
    assert_eq!(status, 200);
    let items = thread_items(app, &id).await;
    let tutor = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["role"] == "tutor")
        .unwrap_or_else(|| panic!("a tutor item in {items}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, tutor)
}

async fn thread_items(app: &TestApp, id: &str) -> Value {
    let (status, items) = send(
        app,
        app.client
            .get(app.url(&format!("/v1/threads/{id}/items?order=asc"))),
    )
    .await;
    assert_eq!(status, 200, "{items}");
    items
}

/// What a user sees of their study: the thread list and every thread's items.
async fn visible_state(app: &TestApp) -> Value {
    let (status, threads) = send(app, app.client.get(app.url("/v1/threads"))).await;
    assert_eq!(status, 200, "{threads}");
    let mut items = Vec::new();
    for thread in threads["data"].as_array().unwrap() {
        items.push(thread_items(app, thread["id"].as_str().unwrap()).await);
    }
    json!({"threads": threads, "items": items})
}

async fn search_paths(app: &TestApp, q: &str) -> Vec<String> {
    let (status, answer) = app.get_json(&format!("/v1/book/search?q={q}")).await;
    assert_eq!(status, 200, "{answer}");
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_populated_sqlite_database_moves_to_postgres_and_is_served_the_same() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    // Arrange: a service on SQLite, used.
    let book_dir = tempfile::tempdir().unwrap();
    write_book(book_dir.path(), &book());
    let folder = book_dir.path().display().to_string();
    let mut app = spawn_app_with(vars(&folder, &[])).await;
    // Kept past the service's stop: the folder holds the SQLite database to copy.
    let sqlite_dir = app._dir.take().unwrap();
    let sqlite_url = format!("sqlite://{}/nested/app.sqlite", sqlite_dir.path().display());
    let (status, queued) = app.start_sync(json!({})).await;
    assert_eq!(status, 202, "{queued}");
    let job_id = queued["job_id"].as_str().unwrap().to_string();
    let job = app.wait_job(&job_id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (first, tutor_item) = studied_thread(&app, "First").await;
    studied_thread(&app, "Second").await;
    let (status, _) = send(
        &app,
        app.client
            .post(app.url(&format!("/v1/threads/{first}/items/{tutor_item}/feedback")))
            .json(&json!({"kind": "positive"})),
    )
    .await;
    assert_eq!(status, 204);
    let before = visible_state(&app).await;
    assert_eq!(before["threads"]["data"].as_array().unwrap().len(), 2);
    app.stop().await.unwrap();
    let key = run(
        &["keys", "create", "--name", "ops-key", "--scopes", "admin"],
        &[("DATABASE_URL", &sqlite_url)],
    )
    .await;
    assert_eq!(key.status.code(), Some(0), "{}", text(&key.stderr));
    // A student signed in through the own sign-in: a user, an identity, a refresh session.
    let auth = Auth::start(&[("DATABASE_URL", &sqlite_url)]).await;
    let (_, refresh_token) = auth.tokens("github").await;
    auth.app.stop().await.unwrap();

    // Act: copy into a fresh Postgres database.
    let pg_url = fresh_postgres_database(&admin).await;
    let copy = [
        "db",
        "copy",
        "--from",
        &sqlite_url,
        "--to",
        &pg_url,
        "--batch",
        "2",
    ];
    let out = run(&copy, &[]).await;

    // Assert: verified, every table listed with the rows the service made.
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("copy verified"), "{stdout}");
    for table in [
        "threads",
        "thread_items",
        "study_states",
        "item_feedback",
        "api_keys",
        "users",
        "user_identities",
        "refresh_tokens",
        "book_lessons",
        "book_sections",
        "sync_runs",
        "sync_run_lessons",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{table} ")))
            .unwrap_or_else(|| panic!("{table} in {stdout}"));
        assert!(line.ends_with("ok"), "{line}");
        assert!(!line.contains(" 0 "), "{table} copied no row: {line}");
    }

    // Running it again is refused (the target holds rows) unless forced, and forced it
    // converges on the same rows.
    let again = run(&copy, &[]).await;
    assert_eq!(again.status.code(), Some(3), "{}", text(&again.stdout));
    assert!(
        text(&again.stderr).contains("not empty"),
        "{}",
        text(&again.stderr)
    );
    let mut forced = copy.to_vec();
    forced.push("--force");
    let out = run(&forced, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("copy verified"));

    // The service on Postgres serves the same threads and items, the book and its search
    // index (rebuilt by Postgres), the sync run, and knows the API key.
    let on_pg = spawn_with_config(test_config(vars(&folder, &[("DATABASE_URL", &pg_url)]))).await;
    assert_eq!(visible_state(&on_pg).await, before);
    assert_eq!(
        search_paths(&on_pg, "automobile").await,
        vec!["01-Intro/01-Basics/02-models".to_string()]
    );
    let (status, job) = on_pg.get_json(&format!("/v1/jobs/{job_id}")).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "completed", "{job}");
    on_pg.stop().await.unwrap();
    let keys = run(&["keys", "list"], &[("DATABASE_URL", &pg_url)]).await;
    assert!(
        text(&keys.stdout).contains("ops-key"),
        "{}",
        text(&keys.stdout)
    );
    // The signed-in student's session carries on: the refresh token made on SQLite refreshes
    // on Postgres, as the same user.
    let auth = Auth::start(&[("DATABASE_URL", &pg_url)]).await;
    let (status, body) = auth.refresh_body(&refresh_token).await;
    assert_eq!(status, 200, "the session moved with the database: {body}");
    let access = body["access_token"].as_str().unwrap();
    let (status, me) = auth.get_as(access, "/v1/me/export").await;
    assert_eq!(status, 200, "{me}");
    assert!(me.to_string().contains("ada@example.org"), "{me}");
}

#[tokio::test]
async fn db_copy_refuses_urls_it_cannot_copy_between() {
    let out = run(
        &[
            "db",
            "copy",
            "--from",
            "mysql://x/y",
            "--to",
            "sqlite://a.db",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("--from"),
        "{}",
        text(&out.stderr)
    );
    let same = run(
        &[
            "db",
            "copy",
            "--from",
            "sqlite://a.db",
            "--to",
            "sqlite://a.db",
        ],
        &[],
    )
    .await;
    assert_eq!(same.status.code(), Some(3));
    assert!(
        text(&same.stderr).contains("same database"),
        "{}",
        text(&same.stderr)
    );
}

/// A synced SQLite service, stopped; its database folder (keep it) and URL.
async fn synced_sqlite(book: &str) -> (tempfile::TempDir, String) {
    let mut app = spawn_app_with(vars(book, &[])).await;
    let dir = app._dir.take().unwrap();
    let url = format!("sqlite://{}/nested/app.sqlite", dir.path().display());
    let job = app.sync_and_wait(json!({})).await;
    assert_eq!(job["status"], "completed", "{job}");
    app.stop().await.unwrap();
    (dir, url)
}

#[tokio::test]
async fn a_copy_into_sqlite_rebuilds_the_search_index() {
    // Arrange
    let book_dir = tempfile::tempdir().unwrap();
    write_book(book_dir.path(), &book());
    let folder = book_dir.path().display().to_string();
    let (_source, from) = synced_sqlite(&folder).await;
    let target = tempfile::tempdir().unwrap();
    let to = format!("sqlite://{}/copy.sqlite", target.path().display());

    // Act
    let out = run(&["db", "copy", "--from", &from, "--to", &to], &[]).await;

    // Assert: the search rows were rebuilt, and the copy's service finds the section.
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("search index rebuilt on the target: 4 sections"),
        "{stdout}"
    );
    let app = spawn_with_config(test_config(vars(&folder, &[("DATABASE_URL", &to)]))).await;
    assert_eq!(
        search_paths(&app, "automobile").await,
        vec!["01-Intro/01-Basics/02-models".to_string()]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_schema_with_a_column_the_copy_does_not_know_is_refused_before_writing() {
    use sea_orm::sqlx::{Connection, Executor, SqliteConnection};
    // Arrange: a later version's column in the source.
    let book_dir = tempfile::tempdir().unwrap();
    write_book(book_dir.path(), &book());
    let (_source, from) = synced_sqlite(&book_dir.path().display().to_string()).await;
    let mut conn = SqliteConnection::connect(&from).await.unwrap();
    conn.execute("ALTER TABLE threads ADD COLUMN mood TEXT")
        .await
        .unwrap();
    conn.close().await.unwrap();
    let target = tempfile::tempdir().unwrap();
    let to = format!("sqlite://{}/copy.sqlite", target.path().display());

    // Act
    let out = run(&["db", "copy", "--from", &from, "--to", &to], &[]).await;

    // Assert: refused, naming the column; nothing copied.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("threads.mood"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("copy verified"));
}
