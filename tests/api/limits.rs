//! Bounds on what a client can make the service store: every field it sends, the stored message
//! as a whole, threads per user and items per thread — each refused with a typed 4xx before
//! anything is written.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use study_mode_api::adapters::sql::Database;

use crate::chatkit_client::{LESSON, lessons_dir, message};
use crate::helpers::{TestApp, pairs, spawn_app_with, test_config};

async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = pairs(&[("LESSONS_DIR", &lessons_dir())]);
    vars.extend(pairs(extra));
    spawn_app_with(vars).await
}

fn on_lesson() -> String {
    format!("?lesson_path={LESSON}")
}

/// Status and error code of a ChatKit request that must fail before any stream.
async fn refusal(app: &TestApp, user: &str, body: Value, query: &str) -> (u16, String) {
    let resp = app.chatkit_as(user, body, query).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON error, got {text:?}"));
    (status, body["error"]["code"].as_str().unwrap_or("").into())
}

fn with_part(part: Value) -> Value {
    json!({"content":[{"type":"input_text","text":"Look at this"}, part],"attachments":[],"inference_options":{}})
}

async fn thread_count(app: &TestApp, user: &str) -> usize {
    let (status, page) = app
        .chatkit_json(user, json!({"type":"threads.list","params":{"limit":100}}))
        .await;
    assert_eq!(status, 200);
    page["data"].as_array().unwrap().len()
}

async fn item_count(app: &TestApp, user: &str, thread_id: &str) -> usize {
    let (status, page) = app
        .chatkit_json(
            user,
            json!({"type":"items.list","params":{"thread_id":thread_id,"limit":100}}),
        )
        .await;
    assert_eq!(status, 200);
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn an_input_tag_with_900_kb_of_data_is_refused_and_nothing_is_stored() {
    // Arrange
    let app = spawn_with(&[]).await;
    let tag = json!({"type":"input_tag","id":"t1","text":"@lesson","data":{"blob":"x".repeat(900 * 1024)},"interactive":false});
    // Act: as the first message of a new thread, and as a message on an existing one.
    let create = json!({"type":"threads.create","params":{"input": with_part(tag.clone())}});
    let first = refusal(&app, "student-a", create, &on_lesson()).await;
    let (thread_id, _) = app.start_thread("student-a", "Hello").await;
    let add = json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input": with_part(tag)}});
    let second = refusal(&app, "student-a", add, "").await;
    // Assert
    assert_eq!(first, (400, "field_too_long".into()));
    assert_eq!(second, (400, "field_too_long".into()));
    assert_eq!(
        thread_count(&app, "student-a").await,
        1,
        "no thread was made"
    );
    assert_eq!(
        item_count(&app, "student-a", &thread_id).await,
        2,
        "only the first turn is stored"
    );
}

#[tokio::test]
async fn a_message_within_every_field_bound_but_too_large_as_a_whole_is_refused() {
    let app = spawn_with(&[]).await;
    // 40 tags of 3 KB of data each: every tag is within its bound, the message is ~120 KB.
    let tags: Vec<Value> = (0..40)
        .map(|i| json!({"type":"input_tag","id":format!("t{i}"),"text":"x","data":"d".repeat(3 * 1024),"interactive":false}))
        .collect();
    let input = json!({"content": tags, "attachments": [], "inference_options": {}});
    let body = json!({"type":"threads.create","params":{"input": input}});
    assert_eq!(
        refusal(&app, "student-a", body, &on_lesson()).await,
        (400, "message_too_large".into())
    );
    assert_eq!(thread_count(&app, "student-a").await, 0);
}

#[tokio::test]
async fn oversized_tag_fields_model_names_quoted_text_and_metadata_are_refused_by_name() {
    let app = spawn_with(&[]).await;
    let long = "m".repeat(1_000);
    let tag = |id: &str, group: &str| json!({"type":"input_tag","id":id,"text":"x","data":{},"group":group,"interactive":false});
    let cases = [
        (with_part(tag(&long, "g")), "content[1].id"),
        (with_part(tag("t1", &long)), "content[1].group"),
        (
            json!({"content":[{"type":"input_text","text":"hi"}],"attachments":[],"inference_options":{"model":long}}),
            "inference_options.model",
        ),
        (
            json!({"content":[{"type":"input_text","text":"hi"}],"attachments":[],"inference_options":{"tool_choice":{"id":long}}}),
            "inference_options.tool_choice.id",
        ),
        (
            json!({"content":[{"type":"input_text","text":"hi"}],"attachments":[],"quoted_text":"q".repeat(5_001),"inference_options":{}}),
            "quoted_text",
        ),
    ];
    for (input, field) in cases {
        let body = json!({"type":"threads.create","params":{"input": input}});
        let resp = app.chatkit_as("student-a", body, &on_lesson()).await;
        assert_eq!(resp.status(), 400, "{field}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "field_too_long", "{field}");
        assert!(
            err["error"]["message"].as_str().unwrap().starts_with(field),
            "{field}: {err}"
        );
    }
    let metadata = json!({"type":"threads.list","params":{},"metadata":{"blob": long.repeat(10)}});
    assert_eq!(
        refusal(&app, "student-a", metadata, "").await,
        (400, "field_too_long".into()),
        "request metadata is bounded too, though never stored"
    );
    assert_eq!(thread_count(&app, "student-a").await, 0);
}

#[tokio::test]
async fn malformed_or_oversized_ids_are_refused_with_invalid_id_on_both_surfaces() {
    let app = spawn_with(&[]).await;
    let (thread_id, _) = app.start_thread("student-a", "Hello").await;
    let huge = "t".repeat(10_000);
    let bodies = [
        json!({"type":"threads.get_by_id","params":{"thread_id": huge}}),
        json!({"type":"threads.delete","params":{"thread_id":"thr 1"}}),
        json!({"type":"items.list","params":{"thread_id": thread_id, "after": huge}}),
        json!({"type":"threads.list","params":{"after":"../x"}}),
        json!({"type":"items.feedback","params":{"thread_id": thread_id,"item_ids":["msg_1", huge],"kind":"positive"}}),
        json!({"type":"threads.add_user_message","params":{"thread_id": huge,"input": message("hi")}}),
        json!({"type":"threads.retry_after_item","params":{"thread_id": thread_id,"item_id": huge}}),
    ];
    for body in bodies {
        let op = body["type"].clone();
        assert_eq!(
            refusal(&app, "student-a", body, "").await,
            (400, "invalid_id".into()),
            "{op}"
        );
    }
    let resp = app
        .client
        .get(app.url(&format!("/v1/threads/{}", "t".repeat(200))))
        .header("x-user-id", "student-a")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_id");
    assert_eq!(item_count(&app, "student-a", &thread_id).await, 2);
}

async fn rest_create(app: &TestApp, user: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/v1/threads"))
        .header("x-user-id", user)
        .json(&json!({"lesson_path": LESSON}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_user_at_the_thread_cap_gets_409_on_both_surfaces_until_a_thread_is_deleted() {
    // Arrange
    let app = spawn_with(&[("MAX_THREADS_PER_USER", "2")]).await;
    let (first, _) = app.start_thread("student-a", "Hello").await;
    assert_eq!(rest_create(&app, "student-a").await.0, 201);
    // Act
    let (status, err) = rest_create(&app, "student-a").await;
    let create = json!({"type":"threads.create","params":{"input": message("One more")}});
    let chatkit = refusal(&app, "student-a", create.clone(), &on_lesson()).await;
    // Assert
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "thread_limit_reached");
    assert_eq!(chatkit, (409, "thread_limit_reached".into()));
    assert_eq!(thread_count(&app, "student-a").await, 2);
    assert_eq!(
        rest_create(&app, "student-b").await.0,
        201,
        "the cap is per user"
    );
    let (status, _) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.delete","params":{"thread_id": first}}),
        )
        .await;
    assert_eq!(status, 200);
    let events = app.chatkit_stream("student-a", create, &on_lesson()).await;
    assert_eq!(events[0]["type"], "thread.created", "room again");
}

#[tokio::test]
async fn concurrent_creates_at_the_thread_cap_never_leave_more_threads_than_the_cap() {
    let app = spawn_with(&[("MAX_THREADS_PER_USER", "3")]).await;
    let statuses: Vec<u16> =
        futures::future::join_all((0..12).map(|_| async { rest_create(&app, "racer").await.0 }))
            .await;
    assert_cap_held(&app, &statuses, 3).await;
}

/// After a race of creates under a cap of `cap`: no more threads than the cap, every refusal
/// a 409, nothing left behind by a refused create, and the free slots still usable.
async fn assert_cap_held(app: &TestApp, statuses: &[u16], cap: usize) {
    // Racers that all see each other may all withdraw, so none winning is possible.
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(created <= cap, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(thread_count(app, "racer").await, created, "{statuses:?}");
    for _ in created..cap {
        assert_eq!(rest_create(app, "racer").await.0, 201, "a free slot");
    }
    assert_eq!(rest_create(app, "racer").await.0, 409, "full");
}

#[tokio::test]
async fn a_turn_that_would_not_fit_in_a_full_thread_gets_409_thread_full_on_both_surfaces() {
    // Arrange: 4 items = two turns of a message and an answer.
    let app = spawn_with(&[("MAX_ITEMS_PER_THREAD", "4")]).await;
    let (thread_id, _) = app.start_thread("student-a", "Hello").await;
    let events = app.send("student-a", &thread_id, "Go on").await;
    assert!(events.iter().any(|e| e["type"] == "thread.item.done"));
    // Act
    let add = json!({"type":"threads.add_user_message","params":{"thread_id": thread_id,"input": message("And then?")}});
    let chatkit = refusal(&app, "student-a", add, "").await;
    let rest = app
        .client
        .post(app.url(&format!("/v1/threads/{thread_id}/messages")))
        .header("x-user-id", "student-a")
        .json(&json!({"text":"And then?"}))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(chatkit, (409, "thread_full".into()));
    assert_eq!(rest.status(), 409);
    let err: Value = rest.json().await.unwrap();
    assert_eq!(err["error"]["code"], "thread_full");
    assert_eq!(item_count(&app, "student-a", &thread_id).await, 4);
    let (fresh, _) = app.start_thread("student-a", "A new thread").await;
    assert_eq!(item_count(&app, "student-a", &fresh).await, 2);
}

#[tokio::test]
async fn concurrent_creates_at_the_thread_cap_hold_on_postgres_too() {
    let Some(admin) = crate::helpers::test_database_url().await else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    let app =
        crate::chatkit_client::spawn_tutor_app_on(&url, &[("MAX_THREADS_PER_USER", "3")]).await;
    let statuses: Vec<u16> =
        futures::future::join_all((0..12).map(|_| async { rest_create(&app, "racer").await.0 }))
            .await;
    assert_cap_held(&app, &statuses, 3).await;
}

#[tokio::test]
async fn a_create_whose_first_message_cannot_be_stored_leaves_no_thread_behind() {
    // Arrange: the database refuses every item of one student, as a full disk would.
    let app = spawn_with(&[]).await;
    let dir = app._dir.as_ref().expect("temporary folder");
    let url = format!("sqlite://{}/nested/app.sqlite", dir.path().display());
    let vars = pairs(&[("DATABASE_URL", &url), ("AUTO_MIGRATE", "false")]);
    let db = Database::connect(&test_config(vars).database)
        .await
        .expect("database opens");
    let conn = db.connection();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "CREATE TRIGGER refuse_items BEFORE INSERT ON thread_items \
         WHEN NEW.user_id = 'student-doomed' \
         BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END",
    ))
    .await
    .expect("trigger created");
    db.close().await;
    let create = json!({"type":"threads.create","params":{"input": message("Hello")}});
    // Act
    let (status, _) = refusal(&app, "student-doomed", create, &on_lesson()).await;
    // Assert
    assert!(status >= 500, "the create fails: {status}");
    assert_eq!(
        thread_count(&app, "student-doomed").await,
        0,
        "no empty thread left in the student's list"
    );
    let (_, events) = app.start_thread("student-b", "Hello").await;
    assert_eq!(
        events[0]["type"], "thread.created",
        "other students unaffected"
    );
}
