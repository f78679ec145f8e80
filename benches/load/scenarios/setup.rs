//! Requests of the scenarios, and the set-up work done through the API before measuring:
//! prechecks that the service answers 200 to the bench identity, and seeding threads.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::cli::AuthMode;
use crate::error::HarnessError;
use crate::generator::RequestSpec;
use crate::generator::conn::fetch;
use crate::service::Target;

/// The sample lesson every scenario reads or studies.
pub const LESSON: &str = "01-Foundations/02-Agents/01-what-is-an-agent";

/// Time allowed for one set-up request (a whole turn while seeding).
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Turns run at once while seeding.
const SEED_CONCURRENCY: usize = 16;

/// A plain `GET`.
pub fn get(path: &str) -> RequestSpec {
    RequestSpec {
        method: "GET".into(),
        path: path.into(),
        body: None,
        stream: false,
    }
}

/// `threads.list`, first page of 20.
pub fn threads_list() -> RequestSpec {
    RequestSpec {
        method: "POST".into(),
        path: "/chatkit".into(),
        body: Some(json!({"type":"threads.list","params":{"limit":20}}).to_string()),
        stream: false,
    }
}

/// A whole tutoring turn: `threads.create` with a user message on [`LESSON`].
pub fn turn() -> RequestSpec {
    let input = json!({
        "content": [{"type": "input_text", "text": "What are tools for in an agent?"}],
        "attachments": [],
        "inference_options": {}
    });
    RequestSpec {
        method: "POST".into(),
        path: format!("/chatkit?lesson_path={LESSON}"),
        body: Some(json!({"type":"threads.create","params":{"input": input}}).to_string()),
        stream: true,
    }
}

/// Sends `request` once as `identity`; returns the body, or fails unless it answers 2xx.
///
/// # Errors
/// The status and body, with a hint when a JWT was refused.
pub async fn expect_ok(
    target: &Target,
    request: &RequestSpec,
    identity: &[(String, String)],
    auth: AuthMode,
) -> Result<Vec<u8>, HarnessError> {
    let (status, body) = fetch(target.addr, request, &target.host, identity, SETUP_TIMEOUT)
        .await
        .map_err(|e| HarnessError::setup(&request.path, e))?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let mut detail = format!(
        "status {status}: {}",
        String::from_utf8_lossy(&body)
            .chars()
            .take(300)
            .collect::<String>()
    );
    if status == 401 && auth == AuthMode::Jwt {
        detail.push_str(" (the service refused the bench JWT: check JWKS_URL, JWT_ISSUER and JWT_AUDIENCE in benches/load/service.rs; --auth dev avoids tokens)");
    }
    Err(HarnessError::setup(&request.path, detail))
}

/// Gives every identity `per_user` threads through `threads.create` turns; returns the time
/// it took.
///
/// # Errors
/// The first turn that fails.
pub async fn seed_threads(
    target: &Target,
    identities: &[Vec<(String, String)>],
    per_user: usize,
) -> Result<Duration, HarnessError> {
    let started = Instant::now();
    let request = turn();
    let work = identities
        .iter()
        .flat_map(|identity| std::iter::repeat_n(identity, per_user));
    let mut turns = futures::stream::iter(work)
        .map(|identity| async {
            let answer = fetch(target.addr, &request, &target.host, identity, SETUP_TIMEOUT).await;
            match answer {
                Ok((200, _)) => Ok(()),
                Ok((status, body)) => Err(format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(300)
                        .collect::<String>()
                )),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(SEED_CONCURRENCY);
    let mut done = 0usize;
    while let Some(outcome) = turns.next().await {
        outcome.map_err(|e| HarnessError::setup("seeding threads.create", e))?;
        done += 1;
        if done.is_multiple_of(1000) {
            eprintln!("load:   seeded {done} threads");
        }
    }
    Ok(started.elapsed())
}
