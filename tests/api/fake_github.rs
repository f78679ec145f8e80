//! A fake GitHub on 127.0.0.1:0. Raw files from memory at `/{repo}/{branch}/{prefix}/{path}{ext}`
//! (raw.githubusercontent.com), each with an `ETag` (the quoted SHA-256 of its body) and a 304
//! to a matching `If-None-Match`; the git trees API of the branch
//! (`/repos/{repo}/git/trees/{branch}?recursive=1`, api.github.com) listing every file held
//! with a blob SHA that changes with the file. Counts requests and full downloads per URL,
//! records the `Authorization` seen, and has switches to fail (500, for every URL or for one,
//! always or N times), refuse for a rate limit (429), truncate the tree or answer slowly.

#[cfg(test)]
mod selftest;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, get, handler};
use sha2::{Digest, Sha256};

/// The repository, branch and docs folder the service reads by default.
pub const REPO: &str = "panaversity/agentfactory";
pub const BRANCH: &str = "main";
pub const PREFIX: &str = "apps/learn-app/docs";

#[derive(Default)]
struct State {
    /// URL path without the leading `/` → file body.
    files: Mutex<HashMap<String, String>>,
    /// URL path without the leading `/` → requests received.
    hits: Mutex<HashMap<String, usize>>,
    /// URL path without the leading `/` → 200 answers with a body (not 304s, not failures).
    downloads: Mutex<HashMap<String, usize>>,
    /// URL path without the leading `/` → 500s still to give (`None`: for good).
    failures: Mutex<HashMap<String, Option<usize>>>,
    /// `Authorization` of the latest request.
    authorization: Mutex<Option<String>>,
    failing: AtomicBool,
    /// While non-zero: answer 429 with this `Retry-After`.
    throttled_secs: AtomicU64,
    delay_ms: AtomicU64,
    /// Whether the tree answer says `"truncated": true`.
    truncated: AtomicBool,
}

/// A running fake; it stops with the test's runtime.
pub struct FakeGithub {
    pub addr: SocketAddr,
    state: Arc<State>,
}

/// URL path (no leading `/`) of the branch's tree.
fn tree_key() -> String {
    format!("repos/{REPO}/git/trees/{BRANCH}")
}

/// `"<hex SHA-256 of body>"`: the raw host's strong validator.
fn etag_of(body: &str) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(body.as_bytes())))
}

/// A git-like blob id: 40 hex characters that change whenever the body does.
fn blob_sha(body: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("blob {}\0", body.len()).as_bytes());
    hash.update(body.as_bytes());
    hex::encode(hash.finalize())[..40].to_string()
}

/// Whether `If-None-Match` (a list of validators, maybe weak, or `*`) matches `etag`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Takes one scripted failure of `key`, if any is left.
fn scripted_failure(state: &State, key: &str) -> bool {
    let mut failures = state.failures.lock().unwrap();
    match failures.get_mut(key) {
        None => false,
        Some(None) => true,
        Some(Some(left)) => {
            *left -= 1;
            if *left == 0 {
                failures.remove(key);
            }
            true
        }
    }
}

#[handler]
async fn serve(req: &Request, state: Data<&Arc<State>>) -> Response {
    let key = req.uri().path().trim_start_matches('/').to_string();
    *state.hits.lock().unwrap().entry(key.clone()).or_default() += 1;
    *state.authorization.lock().unwrap() = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let throttled = state.throttled_secs.load(Ordering::SeqCst);
    if throttled > 0 {
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", throttled.to_string())
            .header("x-ratelimit-remaining", "0")
            .body("rate limited");
    }
    if state.failing.load(Ordering::SeqCst) || scripted_failure(&state, &key) {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body("boom");
    }
    if key == tree_key() {
        return tree(req, &state);
    }
    let file = state.files.lock().unwrap().get(&key).cloned();
    let Some(body) = file else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("404: Not Found");
    };
    let etag = etag_of(&body);
    let if_none_match = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| matches(v, &etag)) {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", etag)
            .finish();
    }
    *state.downloads.lock().unwrap().entry(key).or_default() += 1;
    Response::builder()
        .content_type("text/plain; charset=utf-8")
        .header("etag", etag)
        .body(body)
}

/// The branch's recursive tree: a `blob` per file held and a `tree` per folder above one.
fn tree(req: &Request, state: &State) -> Response {
    if !req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|q| q == "recursive=1")
    {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body("the fake only answers recursive=1");
    }
    let root = format!("{REPO}/{BRANCH}/");
    let files = state.files.lock().unwrap();
    let mut folders = BTreeSet::new();
    let mut entries: Vec<serde_json::Value> = Vec::new();
    for (key, body) in files.iter() {
        let Some(path) = key.strip_prefix(&root) else {
            continue;
        };
        let mut folder = path;
        while let Some((parent, _)) = folder.rsplit_once('/') {
            folders.insert(parent.to_string());
            folder = parent;
        }
        entries.push(serde_json::json!({
            "path": path, "mode": "100644", "type": "blob",
            "sha": blob_sha(body), "size": body.len(),
        }));
    }
    for folder in folders {
        entries.push(serde_json::json!({
            "path": folder, "mode": "040000", "type": "tree", "sha": blob_sha(&folder),
        }));
    }
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let listing = serde_json::json!({
        "sha": blob_sha(&serde_json::Value::Array(entries.clone()).to_string()),
        "url": format!("/repos/{REPO}/git/trees/{BRANCH}"),
        "tree": entries,
        "truncated": state.truncated.load(Ordering::SeqCst),
    });
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(listing.to_string())
}

impl FakeGithub {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let route = Route::new().at("/*path", get(serve).data(state.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let addr = *poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .expect("tcp");
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(route));
        Self { addr, state }
    }

    /// The value for `GITHUB_RAW_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for `GITHUB_API_BASE_URL` (the same server answers both hosts' paths).
    pub fn api_base_url(&self) -> String {
        self.base_url()
    }

    /// URL path of a file under the docs folder, e.g. `01-A/02-b.md`.
    fn key(file: &str) -> String {
        format!("{REPO}/{BRANCH}/{PREFIX}/{file}")
    }

    /// Serves `body` for `file` (relative to the docs folder, extension included), adding it
    /// or changing it (its ETag and blob SHA change with the body).
    pub fn put(&self, file: &str, body: &str) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(Self::key(file), body.to_string());
    }

    /// Stops serving `file` (404 from now on; gone from the tree); whether it was there.
    pub fn remove(&self, file: &str) -> bool {
        self.state
            .files
            .lock()
            .unwrap()
            .remove(&Self::key(file))
            .is_some()
    }

    /// The `ETag` served for `file`, when it is there.
    pub fn etag(&self, file: &str) -> Option<String> {
        let files = self.state.files.lock().unwrap();
        files.get(&Self::key(file)).map(|body| etag_of(body))
    }

    /// The blob SHA the tree lists for `file`, when it is there.
    pub fn blob_sha(&self, file: &str) -> Option<String> {
        let files = self.state.files.lock().unwrap();
        files.get(&Self::key(file)).map(|body| blob_sha(body))
    }

    /// Requests received for `file` (relative to the docs folder, extension included).
    pub fn hits(&self, file: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(&Self::key(file))
            .copied()
            .unwrap_or(0)
    }

    /// Requests received for any URL.
    pub fn total_hits(&self) -> usize {
        self.state.hits.lock().unwrap().values().sum()
    }

    /// Full downloads of `file` (200 with its body; a 304 or a failure is not one).
    pub fn downloads(&self, file: &str) -> usize {
        self.state
            .downloads
            .lock()
            .unwrap()
            .get(&Self::key(file))
            .copied()
            .unwrap_or(0)
    }

    /// Full downloads of every file.
    pub fn total_downloads(&self) -> usize {
        self.state.downloads.lock().unwrap().values().sum()
    }

    /// Requests received for the tree.
    pub fn tree_hits(&self) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(&tree_key())
            .copied()
            .unwrap_or(0)
    }

    /// Answers requests for `file` with 500: the next `times` ones, or every one when `None`
    /// (until [`FakeGithub::heal`]); `Some(0)` ends a failure.
    pub fn fail_file(&self, file: &str, times: Option<usize>) {
        self.script_failure(Self::key(file), times);
    }

    /// Answers requests for the tree with 500: the next `times` ones, or every one when `None`;
    /// `Some(0)` ends a failure.
    pub fn fail_tree(&self, times: Option<usize>) {
        self.script_failure(tree_key(), times);
    }

    fn script_failure(&self, key: String, times: Option<usize>) {
        let mut failures = self.state.failures.lock().unwrap();
        match times {
            Some(0) => failures.remove(&key),
            times => failures.insert(key, times),
        };
    }

    /// Ends every failure scripted for `file`.
    pub fn heal(&self, file: &str) {
        self.state.failures.lock().unwrap().remove(&Self::key(file));
    }

    /// Marks the tree answer as truncated (as GitHub does for huge trees) while `on`.
    pub fn truncate_tree(&self, on: bool) {
        self.state.truncated.store(on, Ordering::SeqCst);
    }

    /// `Authorization` of the latest request.
    pub fn authorization(&self) -> Option<String> {
        self.state.authorization.lock().unwrap().clone()
    }

    /// Answers every request with 500 while `on`.
    pub fn fail(&self, on: bool) {
        self.state.failing.store(on, Ordering::SeqCst);
    }

    /// Answers every request with 429 and `Retry-After: {secs}` while `secs` is not 0.
    pub fn throttle(&self, secs: u64) {
        self.state.throttled_secs.store(secs, Ordering::SeqCst);
    }

    /// Delays every answer by `delay`.
    pub fn slow(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }
}
