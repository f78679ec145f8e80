//! Plain requests of one replica: ChatKit JSON operations, `GET`s, readiness, and the REST
//! listing of threads and items the audit compares with the database.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Endpoint, describe};

/// The outcome of a plain (non-streaming) request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status, when an answer came.
    pub status: Option<u16>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// The failure otherwise.
    pub transport: Option<String>,
    /// How long it took.
    pub took: Duration,
    /// The body (JSON when it parsed).
    pub body: Value,
}

/// One readiness answer.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// When it was asked.
    pub at: Instant,
    /// Status (`None`: no answer within the poll timeout).
    pub status: Option<u16>,
    /// How long it took.
    pub took: Duration,
}

impl Endpoint {
    /// A ChatKit JSON operation (e.g. `threads.list`) as `user`.
    pub async fn chatkit_json(&self, user: &str, body: Value, timeout: Duration) -> Reply {
        let request = self
            .client
            .post(self.url("/chatkit"))
            .header("x-user-id", user)
            .timeout(timeout)
            .json(&body);
        self.reply(request).await
    }

    /// `GET path` as `user`.
    pub async fn get(&self, user: &str, path: &str, timeout: Duration) -> Reply {
        let request = self
            .client
            .get(self.url(path))
            .header("x-user-id", user)
            .timeout(timeout);
        self.reply(request).await
    }

    async fn reply(&self, request: reqwest::RequestBuilder) -> Reply {
        let start = Instant::now();
        let mut reply = Reply {
            status: None,
            retry_after: None,
            transport: None,
            took: Duration::ZERO,
            body: Value::Null,
        };
        match request.send().await {
            Err(e) => reply.transport = Some(describe(&e)),
            Ok(resp) => {
                reply.status = Some(resp.status().as_u16());
                reply.retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match resp.text().await {
                    Ok(text) => {
                        reply.body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    }
                    Err(e) => reply.transport = Some(describe(&e)),
                }
            }
        }
        reply.took = start.elapsed();
        reply
    }

    /// `GET /health/ready`, giving up after `timeout`.
    pub async fn readiness(&self, timeout: Duration) -> Readiness {
        let at = Instant::now();
        let status = self
            .client
            .get(self.url("/health/ready"))
            .timeout(timeout)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        Readiness {
            at,
            status,
            took: at.elapsed(),
        }
    }

    /// Every visible item of a thread through `GET /v1/threads/{id}/items`, oldest first:
    /// `(id, role, text, interrupted)`.
    pub async fn items(
        &self,
        user: &str,
        thread: &str,
    ) -> Result<Vec<(String, String, String, bool)>, String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/v1/threads/{thread}/items?order=asc&limit=100");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let reply = self.get(user, &path, Duration::from_secs(10)).await;
            if reply.status != Some(200) {
                return Err(format!(
                    "GET {path}: {:?} {:?} {}",
                    reply.status, reply.transport, reply.body
                ));
            }
            for item in reply.body["data"].as_array().into_iter().flatten() {
                out.push((
                    item["id"].as_str().unwrap_or_default().to_string(),
                    item["role"].as_str().unwrap_or_default().to_string(),
                    item["text"].as_str().unwrap_or_default().to_string(),
                    item["interrupted"].as_bool().unwrap_or_default(),
                ));
            }
            after = reply.body["after"].as_str().map(str::to_string);
            if reply.body["has_more"] != true || after.is_none() {
                return Ok(out);
            }
        }
    }

    /// Ids of every thread in `user`'s list (`GET /v1/threads`).
    pub async fn thread_ids(&self, user: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/v1/threads?limit=100".to_string();
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let reply = self.get(user, &path, Duration::from_secs(10)).await;
            if reply.status != Some(200) {
                return Err(format!(
                    "GET {path}: {:?} {:?}",
                    reply.status, reply.transport
                ));
            }
            for thread in reply.body["data"].as_array().into_iter().flatten() {
                out.push(thread["id"].as_str().unwrap_or_default().to_string());
            }
            after = reply.body["after"].as_str().map(str::to_string);
            if reply.body["has_more"] != true || after.is_none() {
                return Ok(out);
            }
        }
    }
}
