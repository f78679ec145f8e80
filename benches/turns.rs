//! Load bench of tutoring turns: turns per second and time to first event.
//!
//! `cargo bench --bench turns -- [--db sqlite,postgres] [--streams 100,1000] [--secs 15]`
//!
//! Starts the release binary of the service as a child process on the embedded defaults (or on
//! Postgres from `BENCH_DATABASE_URL`, default the local test server, in a fresh database), with
//! the sample lessons and a fake OpenAI-compatible model in this process that streams its whole
//! answer instantly. Then N clients each run turns back to back (`threads.create`, then
//! `threads.add_user_message`), reading every stream to its end, for a fixed duration. Prints a
//! markdown table. Traffic stays on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use poem::{Body, Response, Route, handler, post};
use serde_json::json;

use common::{arg, fresh_postgres, pct, start_service};

const DELTAS: usize = 20;

#[handler]
fn completions() -> Response {
    let mut body = String::new();
    for i in 0..DELTAS {
        let text = if i + 1 == DELTAS {
            "B) right\n[[CORRECT:B]]".to_string()
        } else {
            format!("word{i} ")
        };
        body.push_str(&format!(
            "data: {}\n\n",
            json!({"choices":[{"index":0,"delta":{"content":text}}]})
        ));
    }
    body.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n");
    Response::builder()
        .content_type("text/event-stream")
        .body(Body::from_string(body))
}

async fn start_fake_model() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake model");
    let addr = listener.local_addr().expect("address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(
        poem::Server::new_with_acceptor(acceptor)
            .run(Route::new().at("/v1/chat/completions", post(completions))),
    );
    addr
}

#[derive(Default)]
struct Stats {
    ttfe_us: Vec<u64>,
    turn_us: Vec<u64>,
    errors: u64,
}

/// One turn: returns (time to first event, whole turn) or None on any error.
async fn turn(
    client: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
) -> Option<(u64, u64, Option<String>)> {
    let started = Instant::now();
    let resp = client
        .post(format!(
            "{base}/chatkit?lesson_path=01-Foundations/02-Agents/01-what-is-an-agent"
        ))
        .header("x-user-id", "bench")
        .json(body)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut stream = resp.bytes_stream();
    let mut first = None;
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        first.get_or_insert_with(|| started.elapsed().as_micros() as u64);
        if text.len() < 4096 {
            text.extend_from_slice(&chunk);
        }
    }
    let total = started.elapsed().as_micros() as u64;
    let text = String::from_utf8_lossy(&text);
    let thread_id = text
        .split("\"thread\":{\"id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_owned);
    Some((first?, total, thread_id))
}

async fn client_loop(client: reqwest::Client, base: String, until: Instant) -> Stats {
    let mut stats = Stats::default();
    let message = |text: &str| json!({"content":[{"type":"input_text","text":text}],"attachments":[],"inference_options":{}});
    let mut thread: Option<String> = None;
    while Instant::now() < until {
        let body = match &thread {
            None => json!({"type":"threads.create","params":{"input":message("\u{200B}")}}),
            Some(id) => {
                json!({"type":"threads.add_user_message","params":{"thread_id":id,"input":message("B")}})
            }
        };
        match turn(&client, &base, &body).await {
            Some((ttfe, total, created)) => {
                stats.ttfe_us.push(ttfe);
                stats.turn_us.push(total);
                if thread.is_none() {
                    thread = created;
                }
            }
            None => stats.errors += 1,
        }
    }
    stats
}

async fn run(base: &str, streams: usize, secs: u64) -> String {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(streams)
        .build()
        .expect("client");
    // Warm-up: one turn per client outside the measured window is not needed for ids; a short
    // global warm-up lets pools and caches fill.
    let _ = client_loop(
        client.clone(),
        base.to_string(),
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|_| tokio::spawn(client_loop(client.clone(), base.to_string(), until)))
        .collect();
    let mut all = Stats::default();
    for t in tasks {
        let s = t.await.expect("client task");
        all.ttfe_us.extend(s.ttfe_us);
        all.turn_us.extend(s.turn_us);
        all.errors += s.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.ttfe_us.sort_unstable();
    all.turn_us.sort_unstable();
    format!(
        "| {streams} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
        all.turn_us.len() as f64 / elapsed,
        pct(&all.ttfe_us, 0.5),
        pct(&all.ttfe_us, 0.95),
        pct(&all.ttfe_us, 0.99),
        pct(&all.turn_us, 0.5),
        pct(&all.turn_us, 0.99),
        all.errors
    )
}

fn main() {
    study_mode_api::bootstrap::install_tls_provider();
    let dbs = arg("--db", "sqlite,postgres");
    let streams: Vec<usize> = arg("--streams", "100,1000")
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let secs: u64 = arg("--secs", "15").parse().unwrap_or(15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let model = start_fake_model().await;
        for db in dbs.split(',') {
            let url = match db {
                "postgres" => {
                    let admin = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                    Some(fresh_postgres(&admin).await)
                }
                _ => None,
            };
            let lessons = format!("{}/examples/lessons", env!("CARGO_MANIFEST_DIR"));
            let mut env = vec![
                ("LESSONS_DIR", lessons),
                ("OPENAI_API_KEY", "sk-bench".to_string()),
                ("OPENAI_BASE_URL", format!("http://{model}/v1")),
                ("DB_MAX_CONNECTIONS", "32".to_string()),
                // Each client runs every turn on one thread: no cap may end it early.
                ("MAX_ITEMS_PER_THREAD", "1000000".to_string()),
            ];
            if let Some(url) = url {
                env.push(("DATABASE_URL", url));
            }
            let mut service = start_service(&env).await;
            println!("\n### {db}: {DELTAS}-delta instant fake model, {secs} s per row\n");
            println!("| concurrent streams | turns/s | TTFE p50 ms | TTFE p95 ms | TTFE p99 ms | turn p50 ms | turn p99 ms | errors |");
            println!("|---|---|---|---|---|---|---|---|");
            for &n in &streams {
                println!("{}", run(&service.base, n, secs).await);
            }
            let _ = service.child.kill().await;
        }
    });
}
