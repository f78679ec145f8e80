//! The book sync end to end: `POST /admin/book/sync`, the job, its event stream, the table of
//! contents, the quality report and a lesson's progress — against a local folder here, against
//! a fake GitHub in `book_sync/github.rs`.

pub mod github;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, pairs, spawn_app_with};

pub const ADMIN: &str = "admin-secret-0123456789";

/// Text long enough to be a teaching step of its own.
pub fn filler() -> String {
    "An agent observes, decides and acts, again and again, until its goal is met. ".repeat(4)
}

/// A small book: two chapters of one part; the second lesson has no title and an image
/// without alt text, the third links to a lesson that does not exist.
pub fn small_book() -> Vec<(&'static str, String)> {
    let f = filler();
    vec![
        (
            "01-Intro/01-Basics/01-first.md",
            format!(
                "---\ntitle: First Steps\nsidebar_position: 1\n---\n\n{f}\n\n## Observe\n\n{f}\n\n\
                 See [the next lesson](./02-second.md).\n\n## Act\n\n{f}\n"
            ),
        ),
        (
            "01-Intro/01-Basics/02-second.md",
            format!("{f}\n\n![](diagram.png)\n\n## Decide\n\n{f}\n"),
        ),
        (
            "01-Intro/02-More/01-third.md",
            format!("# Third\n\n{f}\n\nBack to [nowhere](../../99-Gone/01-lost.md).\n"),
        ),
    ]
}

pub fn write_book(dir: &Path, files: &[(&str, String)]) {
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl TestApp {
    /// `POST /admin/book/sync` as the operator.
    pub async fn start_sync(&self, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url("/admin/book/sync"))
            .header("x-admin-secret", ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Polls the job until it ends (or 60 s pass).
    pub async fn wait_job(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, job) = self.get_json(&format!("/v1/jobs/{id}")).await;
            assert_eq!(status, 200, "{job}");
            if matches!(job["status"].as_str(), Some("completed" | "failed")) {
                return job;
            }
            assert!(Instant::now() < deadline, "job did not end: {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a sync and waits for it.
    pub async fn sync_and_wait(&self, body: Value) -> Value {
        let (status, queued) = self.start_sync(body).await;
        assert_eq!(status, 202, "{queued}");
        self.wait_job(queued["job_id"].as_str().unwrap()).await
    }
}

async fn local_app(dir: &Path, extra: &[(&str, &str)]) -> TestApp {
    let folder = dir.display().to_string();
    let mut vars = pairs(&[
        ("LESSONS_DIR", &folder),
        ("ADMIN_SECRET", ADMIN),
        ("JOB_BACKOFF_MIN_MS", "10"),
        ("JOB_POLL_INTERVAL_MS", "50"),
        ("WORKER_IN_PROCESS", "true"),
    ]);
    vars.extend(pairs(extra));
    spawn_app_with(vars).await
}

#[tokio::test]
async fn a_full_sync_fetches_checks_places_links_and_indexes_every_lesson() {
    // Arrange
    let book = tempfile::tempdir().unwrap();
    write_book(book.path(), &small_book());
    let app = local_app(book.path(), &[]).await;

    // Act
    let job = app.sync_and_wait(json!({})).await;

    // Assert: the job
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["scope"], "book");
    assert_eq!(job["lessons_total"], 3);
    assert_eq!(job["counts"]["synced"], 3, "{job}");
    assert_eq!(job["counts"]["dead"], 0);
    assert_eq!(job["stages"]["ingestion"]["COMPLETED"], 3, "{job}");
    assert_eq!(
        job["stages"]["embedding"]["SKIPPED"], 3,
        "no embeddings model: {job}"
    );
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    assert_eq!(job["failures"], json!([]));

    // The table of contents: one part, two chapters, reading order, links both ways.
    let (status, toc) = app.get_json("/v1/book/toc").await;
    assert_eq!(status, 200);
    assert_eq!(toc["lessons_total"], 3);
    let part = &toc["parts"][0];
    assert_eq!(part["name"], "Intro", "{toc}");
    assert_eq!(part["chapters"][0]["name"], "Basics");
    assert_eq!(part["chapters"][1]["name"], "More");
    let first = &part["chapters"][0]["lessons"][0];
    let second = &part["chapters"][0]["lessons"][1];
    assert_eq!(first["title"], "First Steps");
    assert_eq!(first["next"], "01-Intro/01-Basics/02-second");
    assert_eq!(second["previous"], "01-Intro/01-Basics/01-first");
    assert_eq!(
        second["linked_from"],
        json!(["01-Intro/01-Basics/01-first"])
    );

    // The quality report names each problem where it is.
    let (status, quality) = app.get_json("/v1/book/quality").await;
    assert_eq!(status, 200);
    let kinds = |path: &str| -> Vec<String> {
        quality["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["path"] == path)
            .flat_map(|l| l["problems"].as_array().unwrap().clone())
            .map(|p| p["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        kinds("01-Intro/01-Basics/02-second").contains(&"missing_title".to_string()),
        "{quality}"
    );
    assert!(kinds("01-Intro/01-Basics/02-second").contains(&"image_without_alt".to_string()));
    assert!(kinds("01-Intro/02-More/01-third").contains(&"broken_link".to_string()));
    assert!(kinds("01-Intro/01-Basics/01-first").is_empty(), "{quality}");

    // One lesson's stages.
    let (status, progress) = app
        .get_json("/v1/lessons/progress?path=01-Intro/02-More/01-third")
        .await;
    assert_eq!(status, 200);
    assert_eq!(progress["overall_status"], "COMPLETED", "{progress}");
    assert_eq!(progress["stages"]["quality"]["status"], "COMPLETED");
    assert_eq!(progress["stages"]["embedding"]["status"], "SKIPPED");
    assert!(
        progress["stages"]["embedding"]["error"]
            .as_str()
            .unwrap()
            .contains("EMBEDDINGS_MODEL")
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_second_sync_finds_every_lesson_unchanged_and_a_removed_file_leaves_the_book() {
    // Arrange
    let book = tempfile::tempdir().unwrap();
    write_book(book.path(), &small_book());
    let app = local_app(book.path(), &[]).await;
    app.sync_and_wait(json!({})).await;

    // Act
    let again = app.sync_and_wait(json!({})).await;
    std::fs::remove_file(book.path().join("01-Intro/02-More/01-third.md")).unwrap();
    let after_removal = app.sync_and_wait(json!({})).await;

    // Assert
    assert_eq!(again["counts"]["unchanged"], 3, "{again}");
    assert_eq!(again["counts"]["synced"], 0);
    assert_eq!(after_removal["counts"]["removed"], 1, "{after_removal}");
    assert_eq!(after_removal["counts"]["unchanged"], 2);
    let (_, toc) = app.get_json("/v1/book/toc").await;
    assert_eq!(toc["lessons_total"], 2, "{toc}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_sync_of_named_paths_syncs_only_those_and_refuses_bad_input() {
    // Arrange
    let book = tempfile::tempdir().unwrap();
    write_book(book.path(), &small_book());
    let app = local_app(book.path(), &[]).await;

    // Act
    let job = app
        .sync_and_wait(json!({"paths": ["01-Intro/02-More/01-third"]}))
        .await;
    let (bad_path, bad_body) = app.start_sync(json!({"paths": ["../etc/passwd"]})).await;
    let (not_json, _) = app.start_sync(json!(["a"])).await;
    let anonymous = app
        .client
        .post(app.url("/admin/book/sync"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();

    // Assert
    assert_eq!(job["scope"], "paths");
    assert_eq!(job["paths"], json!(["01-Intro/02-More/01-third"]));
    assert_eq!(job["lessons_total"], 1);
    assert_eq!(job["counts"]["synced"], 1, "{job}");
    assert_eq!(bad_path, 400, "{bad_body}");
    assert_eq!(not_json, 400);
    assert_eq!(anonymous, 401);
    let (unknown, body) = app
        .get_json("/v1/jobs/0190c5a4-d2b1-7c3e-8f1a-2b3c4d5e6f70")
        .await;
    assert_eq!(unknown, 404, "{body}");
    let (garbage, _) = app.get_json("/v1/jobs/not-a-job").await;
    assert_eq!(garbage, 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_event_stream_sends_progress_until_the_job_ends_then_closes() {
    // Arrange
    let book = tempfile::tempdir().unwrap();
    write_book(book.path(), &small_book());
    let app = local_app(book.path(), &[]).await;
    let (_, queued) = app.start_sync(json!({})).await;
    let id = queued["job_id"].as_str().unwrap().to_string();

    // Act: the whole stream, which must end by itself.
    let resp = app
        .client
        .get(app.url(&format!("/v1/jobs/{id}/events")))
        .send()
        .await
        .unwrap();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    let body = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("the stream closes when the job ends")
        .unwrap();

    // Assert
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(body.contains("event: progress"), "{body}");
    let last = events.last().expect("at least one event");
    assert_eq!(last["status"], "completed", "{body}");
    assert_eq!(last["counts"]["synced"], 3);
    assert!(events.iter().all(|e| e["id"] == id.as_str()));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn with_an_embeddings_model_every_section_gets_a_vector_and_the_stage_completes() {
    // Arrange
    let model = crate::fake_model::start(crate::fake_model::Script::default()).await;
    let book = tempfile::tempdir().unwrap();
    write_book(book.path(), &small_book());
    let base = model.base_url();
    let app = local_app(
        book.path(),
        &[
            ("EMBEDDINGS_MODEL", "text-embedding-test"),
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &base),
        ],
    )
    .await;

    // Act
    let job = app.sync_and_wait(json!({})).await;
    let (_, progress) = app
        .get_json("/v1/lessons/progress?path=01-Intro/01-Basics/01-first")
        .await;

    // Assert
    use std::sync::atomic::Ordering;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["stages"]["embedding"]["COMPLETED"], 3, "{job}");
    assert_eq!(
        progress["stages"]["embedding"]["status"], "COMPLETED",
        "{progress}"
    );
    assert!(
        model.embedding_requests.load(Ordering::SeqCst) >= 3,
        "one call per lesson"
    );
    assert!(
        model.embedded_inputs.load(Ordering::SeqCst) >= 6,
        "every section of every lesson"
    );
    app.stop().await.unwrap();
}
