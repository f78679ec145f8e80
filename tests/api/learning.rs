//! Learner progress and question analytics after a scripted class of students taught by the
//! offline tutor, and the teach-mode hint after a wrong answer, on SQLite and Postgres.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::chatkit_client::{LESSON, assistant_text, lessons_dir};
use crate::helpers::{TestApp, fresh_postgres_database, pairs, spawn_with_config, test_config};

const ADMIN: &str = "admin-secret-learning-0123456789";

async fn spawn(postgres: bool) -> Option<(TestApp, String)> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = if postgres {
        let admin = crate::helpers::test_database_url().await?;
        fresh_postgres_database(&admin).await
    } else {
        format!("sqlite://{}/app.sqlite?mode=rwc", dir.path().display())
    };
    let vars = pairs(&[
        ("LESSONS_DIR", &lessons_dir()),
        ("DATABASE_URL", &url),
        ("ADMIN_SECRET", ADMIN),
    ]);
    let mut app = spawn_with_config(test_config(vars)).await;
    app._dir = Some(dir);
    Some((app, url))
}

/// The tutor's reply to `text`.
async fn say(app: &TestApp, user: &str, thread_id: &str, text: &str) -> String {
    assistant_text(&app.send(user, thread_id, text).await)
}

/// A new thread on the lesson: its id, the greeting's text and item id.
async fn start(app: &TestApp, user: &str) -> (String, String, String) {
    let (thread_id, events) = app.start_thread(user, "\u{200B}").await;
    let item = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .expect("the greeting");
    let item_id = item["item"]["id"].as_str().unwrap().to_string();
    (thread_id, assistant_text(&events), item_id)
}

fn right(reply: &str) -> bool {
    reply.contains("Correct!")
}

fn finished(reply: &str) -> bool {
    reply.contains("You finished")
}

/// The options of the last question in `reply`.
fn options(reply: &str) -> (String, String) {
    let pick = |prefix: &str| {
        reply
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .next_back()
            .unwrap_or_else(|| panic!("option {prefix} in {reply}"))
            .to_string()
    };
    (pick("A) "), pick("B) "))
}

/// The option (`A` or `B`) of `(a, b)` that the hint points at, when it points at exactly one.
fn hinted(hint: &str, (a, b): &(String, String)) -> Option<&'static str> {
    let between = |open: &str, close: &str| -> Option<String> {
        let start = hint.find(open)? + open.len();
        let end = hint[start..].find(close)? + start;
        Some(hint[start..end].to_string())
    };
    if let Some(opening) = between("It starts with “", "…”") {
        return match (a.starts_with(&opening), b.starts_with(&opening)) {
            (true, false) => Some("A"),
            (false, true) => Some("B"),
            _ => None,
        };
    }
    let word = between("talks about **", "**")?.to_lowercase();
    match (
        a.to_lowercase().contains(&word),
        b.to_lowercase().contains(&word),
    ) {
        (true, false) => Some("A"),
        (false, true) => Some("B"),
        _ => None,
    }
}

async fn hint_after_a_wrong_answer_names_the_reasked_question(app: &TestApp) {
    let user = "hint-student";
    let (thread_id, _, _) = start(app, user).await;
    // Answer A until one is wrong (the questions do not change between runs).
    let mut reply = say(app, user, &thread_id, "A").await;
    while right(&reply) {
        assert!(!finished(&reply), "some answer A is wrong");
        reply = say(app, user, &thread_id, "A").await;
    }
    assert!(reply.contains("Not quite"), "{reply}");
    let reasked = options(&reply);
    let hint = say(app, user, &thread_id, "hint").await;
    assert!(hint.contains("Hint"), "{hint}");
    let letter = hinted(&hint, &reasked).unwrap_or_else(|| {
        panic!("the hint points at one option of the re-asked question {reasked:?}: {hint}")
    });
    let after = say(app, user, &thread_id, letter).await;
    assert!(
        right(&after),
        "the answer is checked against the re-asked question: {after}"
    );
}

async fn rate(app: &TestApp, user: &str, thread_id: &str, item_id: &str, kind: &str) {
    let status = app
        .client
        .post(app.url(&format!("/v1/threads/{thread_id}/items/{item_id}/feedback")))
        .header("x-user-id", user)
        .json(&json!({ "kind": kind }))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

async fn get_as(app: &TestApp, user: &str, path: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(app.url(path))
        .header("x-user-id", user)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn section(report: &Value, index: u64) -> &Value {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == LESSON && s["section"] == index)
        .unwrap_or_else(|| panic!("section {index} in {report}"))
}

/// A class of four: a scout who finds the answers (answering A, skipping when wrong), an ace
/// who answers every question right, a student who asks for a hint then skips the rest, and
/// one who studies the lesson in two threads. The analytics report of the lesson.
async fn a_scripted_class_shows_in_progress_and_analytics(app: &TestApp) -> Value {
    // Whole seconds: a database may store the time of a turn without its fraction.
    let began = Utc::now().trunc_subsecs(0);
    // The scout.
    let (scout, _, _) = start(app, "scout").await;
    let mut key = Vec::new();
    loop {
        let reply = say(app, "scout", &scout, "A").await;
        let reply = if right(&reply) {
            key.push("A");
            reply
        } else {
            key.push("B");
            say(app, "scout", &scout, "skip").await
        };
        if finished(&reply) {
            break;
        }
        assert!(key.len() < 20, "the lesson ends");
    }
    let sections = key.len();
    assert!(sections >= 2, "{key:?}");

    // The ace, who also rates the greeting (section 0) down.
    let (ace, _, greeting) = start(app, "ace").await;
    for (n, letter) in key.iter().enumerate() {
        let reply = say(app, "ace", &ace, letter).await;
        assert!(right(&reply), "section {n}: {reply}");
    }
    rate(app, "ace", &ace, &greeting, "negative").await;

    // The hinter.
    let (hinter, _, _) = start(app, "hinter").await;
    say(app, "hinter", &hinter, "hint").await;
    assert!(right(&say(app, "hinter", &hinter, key[0]).await));
    for _ in 1..sections {
        say(app, "hinter", &hinter, "skip").await;
    }

    // Two threads of one lesson.
    let (first, _, _) = start(app, "twice").await;
    assert!(right(&say(app, "twice", &first, key[0]).await));
    let (second, _, _) = start(app, "twice").await;
    say(app, "twice", &second, "skip").await;
    assert!(right(&say(app, "twice", &second, key[1]).await));

    // Progress.
    let (status, ace_progress) = get_as(app, "ace", "/v1/progress").await;
    assert_eq!(status, 200, "{ace_progress}");
    let lessons = ace_progress["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), 1, "{ace_progress}");
    let record = &lessons[0];
    assert_eq!(record["path"], LESSON);
    assert_eq!(record["sections_total"], sections);
    assert_eq!(record["sections_completed"], sections);
    assert_eq!(record["right_first_try"], sections);
    assert_eq!(record["completed"], true);
    assert_eq!(record["threads"], 1);
    let last = record["last_studied"].as_str().expect("last_studied");
    let last = DateTime::parse_from_rfc3339(last)
        .unwrap_or_else(|e| panic!("RFC 3339: {last}: {e}"))
        .with_timezone(&Utc);
    assert!(
        began <= last && last <= Utc::now(),
        "studied during the test, not in the future: {last} (began {began})"
    );

    let (status, hinter_record) =
        get_as(app, "hinter", &format!("/v1/progress/lesson?path={LESSON}")).await;
    assert_eq!(status, 200, "{hinter_record}");
    assert_eq!(hinter_record["right_after_hint"], 1);
    assert_eq!(hinter_record["skipped"], sections - 1);
    assert_eq!(hinter_record["completed"], true);

    let (status, twice) = get_as(app, "twice", "/v1/progress").await;
    assert_eq!(status, 200);
    let lessons = twice["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), 1, "two threads make one record: {twice}");
    let record = &lessons[0];
    assert_eq!(record["threads"], 2);
    assert_eq!(record["sections_completed"], 2);
    assert_eq!(record["right_first_try"], 2, "the best of each section");
    assert_eq!(record["skipped"], 0);
    assert_eq!(record["completed"], false);

    let (status, none) = get_as(app, "nobody", &format!("/v1/progress/lesson?path={LESSON}")).await;
    assert_eq!(status, 404);
    assert_eq!(none["error"]["code"], "lesson_not_studied");
    let (status, bad) = get_as(app, "ace", "/v1/progress/lesson?path=../etc").await;
    assert_eq!(status, 400, "{bad}");

    // Analytics.
    let url = format!("/admin/analytics/questions?path={LESSON}");
    let refused = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let report: Value = app
        .client
        .get(app.url(&url))
        .header("x-admin-secret", ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["students"], 4, "{report}");
    let scout_first = |n: usize| u64::from(key[n] == "A");
    let s0 = section(&report, 0);
    assert_eq!(s0["students"], 4, "{s0}");
    assert_eq!(s0["first_try"], 2 + scout_first(0), "ace, twice, scout?");
    assert_eq!(s0["after_hint"], 1);
    assert_eq!(s0["hints"], 1);
    assert_eq!(s0["skipped"], 1 - scout_first(0));
    assert_eq!(s0["feedback_negative"], 1);
    assert_eq!(s0["feedback_positive"], 0);
    let s1 = section(&report, 1);
    assert_eq!(s1["students"], 4, "{s1}");
    assert_eq!(s1["first_try"], 2 + scout_first(1), "ace, twice, scout?");
    assert_eq!(s1["skipped"], 2 - scout_first(1), "hinter, scout?");
    assert_eq!(s1["answered"], s1["first_try"]);
    assert_eq!(s1["feedback_negative"], 0);
    report
}

/// A student's credential (an API key with only the `api` scope, made in the database at
/// `url`) is refused the analytics with 403; a development user without one with 401.
async fn a_student_key_is_refused_the_analytics(app: &TestApp, url: &str) {
    let key = crate::auth::api_keys::create_key(url, "api").await;
    let resp = app
        .client
        .get(app.url(&format!("/admin/analytics/questions?path={LESSON}")))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let (status, _) = get_as(app, "ace", "/admin/analytics/questions").await;
    assert_eq!(
        status, 401,
        "a student of the development mode is no operator"
    );
}

/// The cells of each line of a text table (cells are padded and set two spaces apart).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// `report questions` on the database at `url` prints what the endpoint answered: `report`.
async fn the_cli_prints_the_same_report(url: &str, report: &Value) {
    let env = [("DATABASE_URL", url)];
    let table = crate::cli::run(&["report", "questions", "--path", LESSON], &env).await;
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("LESSON"), "{text}");
    assert!(text.contains("4 student(s)"), "{text}");
    let rows = cells(&text);
    let column = |name: &str| rows[0].iter().position(|h| h == name).expect(name);
    let first = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(LESSON) && r[1] == "0")
        .unwrap_or_else(|| panic!("a row for section 0: {text}"));
    assert_eq!(first.len(), rows[0].len(), "every cell filled: {text}");
    let s0 = section(report, 0);
    assert_eq!(first[column("STUDENTS")], "4", "{text}");
    assert_eq!(first[column("ANSWERED")], s0["answered"].to_string());
    let rate = s0["first_try_rate"].as_f64().expect("a rate");
    assert_eq!(
        first[column("FIRST-TRY")],
        format!("{} ({:.0}%)", s0["first_try"], rate * 100.0),
        "{text}"
    );
    assert_eq!(first[column("HINTS")], "1", "{text}");
    assert_eq!(first[column("DOWN")], "1", "{text}");
    let json = crate::cli::run(&["report", "questions", "--json"], &env).await;
    let printed: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(printed["students"], 4, "{printed}");
    assert_eq!(printed["sections"][0]["first_try"], s0["first_try"]);
    let bad = crate::cli::run(&["report", "questions", "--path", "../x"], &env).await;
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn the_hint_after_a_wrong_answer_matches_the_reasked_question() {
    let (app, _) = spawn(false).await.unwrap();
    hint_after_a_wrong_answer_names_the_reasked_question(&app).await;
}

#[tokio::test]
async fn the_hint_after_a_wrong_answer_matches_the_reasked_question_on_postgres() {
    let Some((app, _)) = spawn(true).await else {
        return;
    };
    hint_after_a_wrong_answer_names_the_reasked_question(&app).await;
}

#[tokio::test]
async fn progress_and_analytics_reflect_a_scripted_class() {
    let (app, url) = spawn(false).await.unwrap();
    let report = a_scripted_class_shows_in_progress_and_analytics(&app).await;
    the_cli_prints_the_same_report(&url, &report).await;
    a_student_key_is_refused_the_analytics(&app, &url).await;
}

#[tokio::test]
async fn progress_and_analytics_reflect_a_scripted_class_on_postgres() {
    let Some((app, url)) = spawn(true).await else {
        return;
    };
    let report = a_scripted_class_shows_in_progress_and_analytics(&app).await;
    the_cli_prints_the_same_report(&url, &report).await;
    a_student_key_is_refused_the_analytics(&app, &url).await;
}
