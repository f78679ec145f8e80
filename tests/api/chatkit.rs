//! `POST /chatkit` speaks the protocol: event order and shapes, JSON operations, errors.

use serde_json::{Value, json};

use crate::chatkit_client::{
    LESSON, LESSON_TITLE, assistant_text, message, spawn_tutor_app, types,
};

#[tokio::test]
async fn threads_create_streams_the_protocol_events_in_order() {
    // Arrange
    let app = spawn_tutor_app().await;
    // Act
    let (thread_id, events) = app
        .start_thread("student-a", "What are tools for in an agent?")
        .await;
    // Assert
    let kinds = types(&events);
    assert_eq!(
        &kinds[..6],
        [
            "thread.created",
            "thread.item.done",
            "stream_options",
            "thread.item.added",
            "thread.item.updated",
            "thread.item.updated"
        ]
    );
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["thread.item.updated", "thread.item.done", "thread.updated"]
    );
    let created = &events[0]["thread"];
    assert!(
        thread_id.starts_with("thr_") && thread_id.len() == 36,
        "128-bit id: {thread_id}"
    );
    assert!(
        created.get("title").is_none(),
        "a new thread has no title key"
    );
    assert_eq!(created["status"], json!({"type":"active"}));
    assert_eq!(created["metadata"], json!({}));
    assert_eq!(created["items"], json!({"data":[],"has_more":false}));
    let user = &events[1]["item"];
    assert_eq!(user["type"], "user_message");
    assert_eq!(
        user["content"],
        json!([{"type":"input_text","text":"What are tools for in an agent?"}])
    );
    assert_eq!(user["attachments"], json!([]));
    assert_eq!(user["inference_options"], json!({}));
    assert_eq!(
        events[2],
        json!({"type":"stream_options","stream_options":{"allow_cancel":true}})
    );
    let added = &events[3]["item"];
    assert_eq!(added["type"], "assistant_message");
    assert_eq!(added["content"], json!([]));
    assert_eq!(
        events[4]["update"],
        json!({"type":"assistant_message.content_part.added","content_index":0,"content":{"annotations":[],"text":"","type":"output_text"}})
    );
    let deltas: String = events
        .iter()
        .filter(|e| e["update"]["type"] == "assistant_message.content_part.text_delta")
        .map(|e| e["update"]["delta"].as_str().unwrap())
        .collect();
    let done = &events[kinds.len() - 2]["item"];
    assert_eq!(done["id"], added["id"]);
    assert_eq!(done["content"][0]["annotations"], json!([]));
    assert_eq!(done["content"][0]["type"], "output_text");
    assert_eq!(
        deltas.trim_end(),
        done["content"][0]["text"].as_str().unwrap(),
        "deltas add up to the answer"
    );
    let updated = &events[kinds.len() - 1]["thread"];
    assert_eq!(
        updated["title"], "What are tools for in an",
        "first six words"
    );
    assert_eq!(updated["id"], thread_id.as_str());
}

#[tokio::test]
async fn auto_start_greets_hides_the_trigger_and_titles_the_thread_after_the_lesson() {
    let app = spawn_tutor_app().await;
    let (thread_id, events) = app.start_thread("student-a", "\u{200B}").await;
    let kinds = types(&events);
    assert_eq!(
        &kinds[..3],
        ["thread.created", "stream_options", "thread.item.added"],
        "no user item event"
    );
    assert_eq!(
        events.last().unwrap()["thread"]["title"],
        format!("📚 {LESSON_TITLE}")
    );
    let (status, thread) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(status, 200);
    let items = thread["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the trigger is not in history: {thread}");
    assert_eq!(items[0]["type"], "assistant_message");
}

#[tokio::test]
async fn the_correct_answer_never_leaves_the_server() {
    let app = spawn_tutor_app().await;
    let (thread_id, events) = app.start_thread("student-a", "\u{200B}").await;
    let wire = serde_json::to_string(&events).unwrap().to_lowercase();
    assert!(!wire.contains("[[correct"), "no marker in any event");
    assert!(
        assistant_text(&events).contains("A)"),
        "the greeting asks an A/B question"
    );
    let (_, items) = app
        .chatkit_json(
            "student-a",
            json!({"type":"items.list","params":{"thread_id":thread_id}}),
        )
        .await;
    assert!(
        !items.to_string().to_lowercase().contains("[[correct"),
        "no marker in stored items"
    );
}

#[tokio::test]
async fn json_operations_answer_with_protocol_shapes() {
    let app = spawn_tutor_app().await;
    let (thread_id, _) = app.start_thread("student-a", "Explain memory please").await;

    let (status, page) = app
        .chatkit_json("student-a", json!({"type":"threads.list","params":{}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["has_more"], false);
    assert!(page.get("after").is_none());
    let listed = &page["data"][0];
    assert_eq!(listed["id"], thread_id.as_str());
    assert_eq!(listed["items"], json!({"data":[],"has_more":false}));
    assert_eq!(listed["metadata"], json!({}));

    let (status, thread) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(status, 200);
    let items = thread["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "user_message", "oldest first");
    assert_eq!(items[1]["type"], "assistant_message");
    let keys: Vec<&str> = items[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.starts_with(&["id", "thread_id", "created_at", "type"]) || keys.len() == 5,
        "{keys:?}"
    );

    let (status, renamed) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.update","params":{"thread_id":thread_id,"title":"My notes"}}),
        )
        .await;
    assert_eq!((status, renamed["title"].as_str()), (200, Some("My notes")));
    let (_, again) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(again["title"], "My notes", "a rename stays");

    let (status, listed) = app
        .chatkit_json(
            "student-a",
            json!({"type":"items.list","params":{"thread_id":thread_id,"limit":1}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["data"][0]["type"], "assistant_message",
        "newest first by default"
    );
    assert_eq!(listed["has_more"], true);
    let after = listed["after"].as_str().unwrap();
    let (_, next) = app
        .chatkit_json(
            "student-a",
            json!({"type":"items.list","params":{"thread_id":thread_id,"limit":"1","after":after}}),
        )
        .await;
    assert_eq!(next["data"][0]["type"], "user_message");
    assert_eq!(next["has_more"], false);

    let assistant_id = items[1]["id"].as_str().unwrap();
    let (status, body) = app
        .chatkit_json(
            "student-a",
            json!({"type":"items.feedback","params":{"thread_id":thread_id,"item_ids":[assistant_id],"kind":"positive"}}),
        )
        .await;
    assert_eq!((status, body), (200, json!({})));

    let (status, body) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.delete","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "thread_not_found");
}

#[tokio::test]
async fn students_never_see_each_others_threads() {
    let app = spawn_tutor_app().await;
    let (thread_id, _) = app.start_thread("student-a", "Hello").await;
    let (_, page) = app
        .chatkit_json("student-b", json!({"type":"threads.list","params":{}}))
        .await;
    assert_eq!(page["data"], json!([]));
    for op in [
        json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        json!({"type":"items.list","params":{"thread_id":thread_id}}),
        json!({"type":"threads.update","params":{"thread_id":thread_id,"title":"mine"}}),
        json!({"type":"threads.delete","params":{"thread_id":thread_id}}),
        json!({"type":"items.feedback","params":{"thread_id":thread_id,"item_ids":["msg_x"],"kind":"negative"}}),
    ] {
        let (status, body) = app.chatkit_json("student-b", op.clone()).await;
        assert_eq!(status, 404, "{op} → {body}");
    }
    let resp = app
        .chatkit_as(
            "student-b",
            json!({"type":"threads.add_user_message","params":{"thread_id":thread_id,"input":message("hi")}}),
            &format!("?lesson_path={LESSON}"),
        )
        .await;
    assert_eq!(resp.status(), 404, "404 before any stream starts");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

async fn error_of(
    app: &crate::helpers::TestApp,
    body: Value,
    query: &str,
) -> (u16, String, String) {
    let resp = app.chatkit_as("student-a", body, query).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap().into(),
        body["error"]["message"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn bad_requests_get_typed_json_errors_before_any_stream() {
    let app = spawn_tutor_app().await;
    let q = format!("?lesson_path={LESSON}");
    let (status, code, message_text) =
        error_of(&app, json!({"type":"threads.explode","params":{}}), &q).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message_text.contains("threads.explode"));
    let (status, _, message_text) = error_of(&app, json!({"type":"threads.list"}), &q).await;
    assert_eq!(status, 400);
    assert!(message_text.contains("params"));
    // serde reads a struct from an array too; the protocol says an object.
    let list_of_nulls = json!({"type":"threads.list","params":[null, null]});
    let (status, _, message_text) = error_of(&app, list_of_nulls, &q).await;
    assert_eq!(status, 400);
    assert!(message_text.contains("params"), "{message_text}");
    let options_as_list = json!({"type":"threads.create","params":{"input":{
        "content":[{"type":"input_text","text":"hi"}],"attachments":[],
        "inference_options":[null, null]}}});
    let (status, _, message_text) = error_of(&app, options_as_list, &q).await;
    assert_eq!(status, 400);
    assert!(
        message_text.contains("params.input.inference_options"),
        "{message_text}"
    );
    let (status, _, message_text) =
        error_of(&app, json!({"type":"threads.get_by_id","params":{}}), &q).await;
    assert_eq!(status, 400);
    assert!(message_text.contains("thread_id"), "{message_text}");
    for op in [
        "attachments.create",
        "attachments.delete",
        "input.transcribe",
        "threads.add_structured_input",
        "threads.sync_custom_action",
    ] {
        let (status, code, _) = error_of(&app, json!({"type":op,"params":{}}), &q).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "unsupported_operation"),
            "{op}"
        );
    }
    let create = json!({"type":"threads.create","params":{"input":message("hi")}});
    let (status, code, _) = error_of(&app, create.clone(), "?lesson_path=../../etc/passwd").await;
    assert_eq!((status, code.as_str()), (400, "invalid_lesson_path"));
    let (status, code, _) = error_of(
        &app,
        create.clone(),
        "?lesson_path=01-Foundations/no-such-lesson",
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "lesson_not_found"));
    let long = "x".repeat(5_001);
    let (status, _, _) = error_of(&app, create.clone(), &format!("{q}&selected_text={long}")).await;
    assert_eq!(status, 400);
    let (status, _, _) = error_of(
        &app,
        // Built by hand: `message` only makes valid messages.
        json!({"type":"threads.create","params":{"input":{"content":[{"type":"input_text","text":"y".repeat(8_001)}],"attachments":[],"inference_options":{}}}}),
        &q,
    )
    .await;
    assert_eq!(status, 400, "message length is bounded");
    let resp = app
        .client
        .post(app.url("/chatkit"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "malformed JSON");
}

#[tokio::test]
async fn streaming_operations_without_a_model_turn_end_cleanly() {
    let app = spawn_tutor_app().await;
    let (thread_id, _) = app.start_thread("student-a", "Hello").await;
    let events = app
        .chatkit_stream("student-a", json!({"type":"threads.add_client_tool_output","params":{"thread_id":thread_id,"result":null}}), "")
        .await;
    assert_eq!(types(&events), ["stream_options"]);
    let events = app
        .chatkit_stream(
            "student-a",
            json!({"type":"threads.custom_action","params":{"thread_id":thread_id,"action":{"type":"approve"}}}),
            "",
        )
        .await;
    assert_eq!(types(&events), ["stream_options", "error"]);
    assert_eq!(events[1]["code"], "custom");
    assert_eq!(events[1]["allow_retry"], false);
}

#[tokio::test]
async fn retry_after_item_answers_the_same_message_again() {
    let app = spawn_tutor_app().await;
    let (thread_id, events) = app
        .start_thread("student-a", "Tell me about guardrails")
        .await;
    let user_id = events[1]["item"]["id"].as_str().unwrap().to_string();
    let events = app
        .chatkit_stream("student-a", json!({"type":"threads.retry_after_item","params":{"thread_id":thread_id,"item_id":user_id}}), "")
        .await;
    assert_eq!(types(&events)[..2], ["stream_options", "thread.item.added"]);
    let (_, thread) = app
        .chatkit_json(
            "student-a",
            json!({"type":"threads.get_by_id","params":{"thread_id":thread_id}}),
        )
        .await;
    let kinds: Vec<&str> = thread["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["user_message", "assistant_message"],
        "the old answer was replaced"
    );
}
