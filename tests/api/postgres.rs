//! The same service on the real Postgres: readiness, outage and recovery, migrations.

use study_mode_api::adapters::sql::{Database, migrations};

use crate::helpers::{
    fresh_postgres_database, pairs, spawn_with_config, target_of, test_config, test_database_url,
    via, wait_for_readiness,
};
use crate::proxy::TcpProxy;

#[tokio::test]
async fn readiness_is_200_on_postgres() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    let url = fresh_postgres_database(&admin).await;
    let app = spawn_with_config(test_config(pairs(&[("DATABASE_URL", &url)]))).await;
    let (status, body) = app.get_json("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"][0]["status"], "up");
}

#[tokio::test]
async fn readiness_turns_503_when_postgres_goes_away_and_recovers_without_a_restart() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    // Arrange: the service reaches Postgres through a proxy the test can cut.
    let url = fresh_postgres_database(&admin).await;
    let proxy = TcpProxy::start(target_of(&url)).await;
    let app = spawn_with_config(test_config(pairs(&[
        ("DATABASE_URL", &via(&url, proxy.addr)),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
    ])))
    .await;
    assert_eq!(app.get_json("/health/ready").await.0, 200);

    // Act: Postgres goes away.
    proxy.cut();
    let (status, body) = wait_for_readiness(&app, 503, 15).await;

    // Assert: unready, naming the database, while liveness holds.
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"][0]["name"], "database");
    assert_eq!(body["checks"][0]["status"], "down");
    assert!(
        !body.to_string().contains("postgres://"),
        "no connection string in the body"
    );
    assert_eq!(app.get("/health").await.status(), 200);

    // Act: Postgres comes back.
    proxy.restore();
    let (status, body) = wait_for_readiness(&app, 200, 20).await;
    assert_eq!(status, 200, "readiness recovers by itself: {body}");
}

#[tokio::test]
async fn migrations_run_concurrently_from_several_replicas_apply_once() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    let url = fresh_postgres_database(&admin).await;
    let config = test_config(pairs(&[("DATABASE_URL", &url), ("AUTO_MIGRATE", "false")]));
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Database::connect(&config.database).await.expect("connect"));
    }
    let runs = futures::future::join_all(replicas.iter().map(migrations::run)).await;
    let applied: Vec<usize> = runs
        .into_iter()
        .map(|r| r.expect("migration succeeds"))
        .collect();
    let all = <migrations::Migrator as sea_orm_migration::MigratorTrait>::migrations().len();
    assert_eq!(
        applied.iter().filter(|n| **n > 0).count(),
        1,
        "exactly one replica applied them: {applied:?}"
    );
    assert_eq!(applied.iter().sum::<usize>(), all, "{applied:?}");
    assert_eq!(
        migrations::run(&replicas[0]).await.unwrap(),
        0,
        "running again is a no-op"
    );
}

/// A release deployed with `AUTO_MIGRATE=false` (the Kubernetes manifests) starts beside its
/// migration Job: it must not serve before the Job has migrated, and a pod of the previous
/// release restarting after the Job must still start on the newer schema.
#[tokio::test]
async fn without_auto_migrate_a_release_waits_for_its_migrations_and_accepts_a_newer_schema() {
    let Some(admin) = test_database_url().await else {
        return;
    };
    let url = fresh_postgres_database(&admin).await;
    let config = test_config(pairs(&[("DATABASE_URL", &url), ("AUTO_MIGRATE", "false")]));
    let db = Database::connect(&config.database).await.expect("connect");

    // Nothing migrated: a bounded wait gives up, naming what to run, and writes nothing.
    let err = migrations::wait_until_applied(
        &db,
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(50),
    )
    .await
    .expect_err("nothing is migrated yet");
    assert!(err.to_string().contains("study-mode-api migrate"), "{err}");

    // The service starts only once the Job has run.
    let starting = tokio::spawn(spawn_with_config(config.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!starting.is_finished(), "the service waits for the schema");
    migrations::run(&db).await.expect("the migration Job");
    let app = tokio::time::timeout(std::time::Duration::from_secs(30), starting)
        .await
        .expect("the service starts once migrated")
        .expect("the service builds");
    let (status, body) = app.get_json("/health/ready").await;
    assert_eq!(status, 200, "{body}");

    // A newer release migrated further: this release still starts.
    sea_orm::ConnectionTrait::execute_unprepared(
        db.connection(),
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29991231_000001_future', 0)",
    )
    .await
    .expect("record a newer migration");
    let again = spawn_with_config(config).await;
    let (status, _) = again.get_json("/health/ready").await;
    assert_eq!(status, 200);
}
