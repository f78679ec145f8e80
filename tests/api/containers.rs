//! Optional (`--features containers`): Postgres 15 and Redis 7 in Docker for local runs without
//! the services installed. One container per image per test process; only its URL is shared
//! (never a pool), and the container is left to Docker's reaper when the process ends.

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};
use tokio::sync::OnceCell;

static POSTGRES: OnceCell<Option<String>> = OnceCell::const_new();
static REDIS: OnceCell<Option<String>> = OnceCell::const_new();

/// Starts (once) a container of `image` (`postgres` or `redis`) and returns its URL, or `None`
/// when no Docker engine answers.
pub async fn start(image: &str) -> Option<String> {
    match image {
        "postgres" => POSTGRES.get_or_init(postgres).await.clone(),
        "redis" => REDIS.get_or_init(redis).await.clone(),
        _ => None,
    }
}

async fn postgres() -> Option<String> {
    let container = GenericImage::new("postgres", "15-alpine")
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
        .start()
        .await
        .map_err(|e| eprintln!("containers: cannot start postgres: {e}"))
        .ok()?;
    let port = container.get_host_port_ipv4(5432).await.ok()?;
    // Kept for the whole test process: statics are never dropped.
    std::mem::forget(container);
    Some(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

async fn redis() -> Option<String> {
    let container = GenericImage::new("redis", "7-alpine")
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
        .start()
        .await
        .map_err(|e| eprintln!("containers: cannot start redis: {e}"))
        .ok()?;
    let port = container.get_host_port_ipv4(6379).await.ok()?;
    std::mem::forget(container);
    Some(format!("redis://127.0.0.1:{port}"))
}
