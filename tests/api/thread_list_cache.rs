//! The `threads.list` cache (`THREAD_LIST_CACHE`, on by default): a list after one's own write
//! shows it, on one process and across two replicas sharing Postgres and Redis, and with Redis
//! cut lists still come from the database.

use serde_json::{Value, json};

use crate::chatkit_client::{spawn_tutor_app, spawn_tutor_app_on};
use crate::helpers::{
    TestApp, fresh_postgres_database, target_of, test_database_url, test_redis_url, via,
};
use crate::proxy::TcpProxy;

fn student() -> String {
    format!("student-{}", uuid::Uuid::new_v4().simple())
}

/// `(id, title)` of every listed thread, newest first.
async fn listed(app: &TestApp, user: &str) -> Vec<(String, Value)> {
    let (status, page) = app
        .chatkit_json(user, json!({"type":"threads.list","params":{"limit":20}}))
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t["title"].clone()))
        .collect()
}

/// The ids of `user`'s first page, newest first.
async fn listed_ids(app: &TestApp, user: &str) -> Vec<String> {
    listed(app, user).await.into_iter().map(|t| t.0).collect()
}

async fn rename(app: &TestApp, user: &str, thread_id: &str, title: &str) {
    let (status, body) = app
        .chatkit_json(
            user,
            json!({"type":"threads.update","params":{"thread_id":thread_id,"title":title}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn delete(app: &TestApp, user: &str, thread_id: &str) {
    let (status, body) = app
        .chatkit_json(
            user,
            json!({"type":"threads.delete","params":{"thread_id":thread_id}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Writes on `writer`, lists on `reader` (each list twice, so a cached page would be served):
/// every list shows the write before it.
async fn every_list_is_fresh_after_each_write(writer: &TestApp, reader: &TestApp) {
    let user = student();
    assert_eq!(listed(reader, &user).await, []);
    assert_eq!(listed(reader, &user).await, []);

    let (first, _) = writer.start_thread(&user, "Explain agents please").await;
    let ids = listed_ids(reader, &user).await;
    assert_eq!(ids, std::slice::from_ref(&first), "create");

    let (second, _) = writer.start_thread(&user, "And tools?").await;
    for _ in 0..2 {
        let ids = listed_ids(reader, &user).await;
        assert_eq!(ids, [second.clone(), first.clone()], "second create");
    }

    rename(writer, &user, &first, "Renamed").await;
    for _ in 0..2 {
        let titles = listed(reader, &user).await;
        assert_eq!(titles[1], (first.clone(), json!("Renamed")), "rename");
    }

    // A further turn on the thread: the list still shows it (and its title) as stored.
    writer.send(&user, &second, "Tell me more").await;
    let (_, stored) = writer
        .chatkit_json(
            &user,
            json!({"type":"threads.get_by_id","params":{"thread_id":second}}),
        )
        .await;
    let titles = listed(reader, &user).await;
    assert_eq!(titles[0], (second.clone(), stored["title"].clone()), "turn");

    delete(writer, &user, &first).await;
    for _ in 0..2 {
        let ids = listed_ids(reader, &user).await;
        assert_eq!(ids, std::slice::from_ref(&second), "delete");
    }

    // Erasure of all the user's data.
    let resp = writer
        .client
        .delete(writer.url("/v1/me"))
        .header("x-user-id", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(listed(reader, &user).await, [], "erasure");
}

#[tokio::test]
async fn embedded_lists_are_fresh_after_the_listers_own_create_rename_turn_delete_and_erasure() {
    let app = spawn_tutor_app().await;
    every_list_is_fresh_after_each_write(&app, &app).await;
}

async fn two_replicas(redis: &str) -> (TestApp, TestApp) {
    let Some(admin) = test_database_url().await else {
        panic!("a Postgres is needed with Redis");
    };
    let db = fresh_postgres_database(&admin).await;
    let a = spawn_tutor_app_on(&db, &[("REDIS_URL", redis)]).await;
    let b = spawn_tutor_app_on(&db, &[("REDIS_URL", redis)]).await;
    (a, b)
}

#[tokio::test]
async fn with_two_replicas_a_write_on_one_is_in_the_next_list_on_the_other() {
    let (Some(_), Some(redis)) = (test_database_url().await, test_redis_url().await) else {
        return;
    };
    let (a, b) = two_replicas(&redis).await;
    every_list_is_fresh_after_each_write(&a, &b).await;
    every_list_is_fresh_after_each_write(&b, &a).await;
}

#[tokio::test]
async fn with_redis_cut_lists_come_from_the_database_and_stay_fresh_once_it_is_back() {
    let (Some(_), Some(redis)) = (test_database_url().await, test_redis_url().await) else {
        return;
    };
    let proxy = TcpProxy::start(target_of(&redis)).await;
    let (a, b) = two_replicas(&via(&redis, proxy.addr)).await;
    let user = student();
    let (first, _) = a.start_thread(&user, "Explain agents please").await;
    // B caches the one-thread page.
    assert_eq!(listed(&b, &user).await.len(), 1);
    assert_eq!(listed(&b, &user).await.len(), 1);

    // Act: Redis goes away; A writes (and cannot tell Redis); B lists.
    proxy.cut();
    rename(&a, &user, &first, "Offline rename").await;
    let (second, _) = a.start_thread(&user, "Written while Redis was cut").await;
    for _ in 0..2 {
        let titles = listed(&b, &user).await;
        assert_eq!(titles.len(), 2, "from the database");
        assert_eq!(titles[0].0, second);
        assert_eq!(titles[1], (first.clone(), json!("Offline rename")));
    }

    // Redis is back: B's pages from before the cut are not served.
    proxy.restore();
    for _ in 0..20 {
        let titles = listed(&b, &user).await;
        assert_eq!(titles.len(), 2, "never the page cached before the cut");
        assert_eq!(titles[1], (first.clone(), json!("Offline rename")));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    delete(&a, &user, &second).await;
    let ids = listed_ids(&b, &user).await;
    assert_eq!(ids, [first]);
}

#[tokio::test]
async fn switched_off_lists_read_the_database_and_are_fresh() {
    let app = crate::helpers::spawn_app_with(crate::helpers::pairs(&[
        ("LESSONS_DIR", &crate::chatkit_client::lessons_dir()),
        ("THREAD_LIST_CACHE", "false"),
    ]))
    .await;
    every_list_is_fresh_after_each_write(&app, &app).await;
}
