//! The client side of one replica: a ChatKit turn read event by event with its timings (plain
//! requests are in `rest`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use super::service::LESSON;

/// A replica as clients see it: its address and an HTTP client of its own.
#[derive(Clone)]
pub struct Endpoint {
    /// Replica name in reports.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    pub(super) client: reqwest::Client,
}

/// How a turn is driven.
#[derive(Debug, Clone, Copy)]
pub struct TurnPlan {
    /// The client gives up after this long (the turn counts as hung).
    pub timeout: Duration,
    /// Hang up after this many text deltas (the page was closed mid-answer).
    pub hang_up_after: Option<usize>,
}

impl TurnPlan {
    /// Read the whole answer, giving up after `timeout`.
    pub fn patient(timeout: Duration) -> Self {
        Self {
            timeout,
            hang_up_after: None,
        }
    }
}

/// What one turn looked like from the student's side.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Student (development user id).
    pub user: String,
    /// Replica it was sent to.
    pub via: String,
    /// Thread: the one it was sent to, or the one `thread.created` announced.
    pub thread_id: Option<String>,
    /// `threads.create` (true) or `threads.add_user_message`.
    pub create: bool,
    /// The student's text (unique in the run).
    pub text: String,
    /// When it was sent.
    pub sent_at: Instant,
    /// HTTP status, when an answer head arrived.
    pub status: Option<u16>,
    /// `Retry-After` of a refusal.
    pub retry_after: Option<String>,
    /// Body of a refusal.
    pub body: Option<String>,
    /// When the answer head arrived.
    pub headers_at: Option<Instant>,
    /// Id of the student's message in its `thread.item.done` (the acknowledgement).
    pub user_ack: Option<String>,
    /// Id of the answer (`thread.item.added`).
    pub assistant_id: Option<String>,
    /// Text deltas received, joined.
    pub streamed: String,
    /// Number of text deltas received.
    pub deltas: usize,
    /// Text of the answer's `thread.item.done`.
    pub done_text: Option<String>,
    /// `error` events.
    pub errors: Vec<Value>,
    /// Frames that were not protocol events.
    pub garbage: Vec<String>,
    /// The connection failed (refused, reset, cut mid-stream).
    pub transport: Option<String>,
    /// The client gave up after its timeout.
    pub timed_out: bool,
    /// The client hung up on purpose.
    pub hung_up: bool,
    /// When the exchange ended (body end, error, hang-up or timeout).
    pub ended_at: Option<Instant>,
}

impl Turn {
    fn new(user: &str, via: &str, thread: Option<&str>, text: &str) -> Self {
        Self {
            user: user.to_string(),
            via: via.to_string(),
            thread_id: thread.map(str::to_string),
            create: thread.is_none(),
            text: text.to_string(),
            sent_at: Instant::now(),
            status: None,
            retry_after: None,
            body: None,
            headers_at: None,
            user_ack: None,
            assistant_id: None,
            streamed: String::new(),
            deltas: 0,
            done_text: None,
            errors: Vec::new(),
            garbage: Vec::new(),
            transport: None,
            timed_out: false,
            hung_up: false,
            ended_at: None,
        }
    }

    /// The answer arrived whole (`thread.item.done` of the assistant message).
    pub fn answered(&self) -> bool {
        self.done_text.is_some()
    }

    /// Seconds from sending to the answer head (or to the end when none came).
    pub fn wait_for_head(&self) -> Duration {
        self.headers_at
            .or(self.ended_at)
            .map_or(Duration::ZERO, |t| t.duration_since(self.sent_at))
    }

    /// From sending to the end of the exchange.
    pub fn duration(&self) -> Duration {
        self.ended_at
            .map_or(Duration::ZERO, |t| t.duration_since(self.sent_at))
    }

    /// One line for reports.
    pub fn summary(&self) -> String {
        format!(
            "{} via {} {} {:?} status={:?} ack={} deltas={} done={} errors={} transport={:?} timed_out={} hung_up={} head={:?} total={:?} body={:?}",
            self.user,
            self.via,
            if self.create { "create" } else { "add" },
            self.thread_id,
            self.status,
            self.user_ack.is_some(),
            self.deltas,
            self.answered(),
            self.errors.len(),
            self.transport,
            self.timed_out,
            self.hung_up,
            self.wait_for_head(),
            self.duration(),
            self.body.as_deref().map(|b| &b[..b.len().min(160)]),
        )
    }

    fn on_frame(&mut self, frame: &str) {
        if frame.starts_with(':') {
            return;
        }
        let Some(event) = frame
            .strip_prefix("data: ")
            .and_then(|j| serde_json::from_str::<Value>(j).ok())
        else {
            self.garbage.push(frame.chars().take(200).collect());
            return;
        };
        let item = &event["item"];
        match event["type"].as_str().unwrap_or_default() {
            "thread.created" => {
                self.thread_id = event["thread"]["id"].as_str().map(str::to_string);
            }
            "thread.item.added" if item["type"] == "assistant_message" => {
                self.assistant_id = item["id"].as_str().map(str::to_string);
            }
            "thread.item.updated"
                if event["update"]["type"] == "assistant_message.content_part.text_delta" =>
            {
                self.streamed
                    .push_str(event["update"]["delta"].as_str().unwrap_or_default());
                self.deltas += 1;
            }
            "thread.item.done" if item["type"] == "user_message" => {
                self.user_ack = item["id"].as_str().map(str::to_string);
            }
            "thread.item.done" if item["type"] == "assistant_message" => {
                self.assistant_id = item["id"].as_str().map(str::to_string);
                self.done_text = Some(
                    item["content"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["text"].as_str())
                        .collect(),
                );
            }
            "error" => self.errors.push(event),
            _ => {}
        }
    }
}

/// The ChatKit content of a student's text.
fn message(text: &str) -> Value {
    json!({"content":[{"type":"input_text","text":text}],"attachments":[],"inference_options":{}})
}

pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Endpoint {
    /// A client for the replica `name` at `addr`.
    pub fn new(name: &str, addr: SocketAddr) -> Self {
        super::crypto();
        Self {
            name: name.to_string(),
            addr,
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        }
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// One turn: a new thread when `thread` is `None`, else a message on it.
    pub async fn turn(&self, user: &str, thread: Option<&str>, text: &str, plan: TurnPlan) -> Turn {
        let mut turn = Turn::new(user, &self.name, thread, text);
        let body = match thread {
            None => json!({"type":"threads.create","params":{"input": message(text)}}),
            Some(id) => {
                json!({"type":"threads.add_user_message","params":{"thread_id": id,"input": message(text)}})
            }
        };
        let request = self
            .client
            .post(self.url(&format!("/chatkit?lesson_path={LESSON}")))
            .header("x-user-id", user)
            .json(&body);
        let exchange = async {
            let resp = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    turn.transport = Some(describe(&e));
                    return;
                }
            };
            turn.headers_at = Some(Instant::now());
            turn.status = Some(resp.status().as_u16());
            turn.retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if resp.status() != 200 {
                turn.body = resp.text().await.ok();
                return;
            }
            let mut body = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            loop {
                match body.next().await {
                    None => return,
                    Some(Err(e)) => {
                        turn.transport = Some(describe(&e));
                        return;
                    }
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                }
                while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let frame: Vec<u8> = buf.drain(..end + 2).collect();
                    turn.on_frame(String::from_utf8_lossy(&frame[..end]).as_ref());
                    if plan.hang_up_after.is_some_and(|n| turn.deltas >= n) {
                        turn.hung_up = true;
                        return;
                    }
                }
            }
        };
        if tokio::time::timeout(plan.timeout, exchange).await.is_err() {
            turn.timed_out = true;
        }
        turn.ended_at = Some(Instant::now());
        turn
    }
}
