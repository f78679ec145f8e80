//! Operator endpoints that purge the lesson cache: `POST /admin/invalidate-cache` (shared
//! secret, the old service's contract) and `POST /webhooks/github` (signed push events).

pub mod dto;
pub mod push;
pub mod raw_body;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use dto::*;
use push::PushEventIn;
use raw_body::RawJson;

use super::error::{ApiError, configured};
use super::tags::ApiTags;
use crate::app::lessons::deliveries::Deliveries;
use crate::app::lessons::{LessonService, PurgeError};
use crate::config::Config;
use crate::domain::lesson::LessonPath;
use crate::domain::rate_limit::period_name;

/// Most lesson paths one purge request may name; a push touching more purges everything.
pub const MAX_PURGE_PATHS: usize = 1_000;

/// Longest piece of a refused path quoted back in an error message.
const QUOTED_PATH_CHARS: usize = 100;

/// The operator endpoints.
pub struct AdminApi {
    /// `None` only in the instance built to print the spec.
    lessons: Option<Arc<LessonService>>,
    config: Arc<Config>,
    /// The book sync a push starts (`None`: spec generation, or purge only).
    sync: Option<Arc<crate::app::sync::SyncService>>,
}

impl AdminApi {
    /// The endpoints over the lesson use cases (`None`: spec generation only).
    pub fn new(lessons: Option<Arc<LessonService>>, config: Arc<Config>) -> Self {
        Self {
            lessons,
            config,
            sync: None,
        }
    }

    /// A push also queues a sync of what it touched.
    pub fn with_sync(mut self, sync: Arc<crate::app::sync::SyncService>) -> Self {
        self.sync = Some(sync);
        self
    }

    /// Purges `paths` (empty: everything) and answers the old service's shape.
    async fn purge(&self, paths: &[LessonPath]) -> Result<PurgeOut, ApiError> {
        let lessons = configured(&self.lessons, "lessons")?;
        let count = lessons.invalidate(paths).await.map_err(|e| match e {
            PurgeError::Throttled { retry_after } => ApiError::rate_limited(
                "everything was purged moments ago; a purge of everything runs at most once per LESSON_PURGE_ALL_MIN_INTERVAL_SECS",
                1,
                &period_name(self.config.lessons.purge_all_interval),
                retry_after,
            ),
            PurgeError::Unavailable => ApiError::unavailable(
                "cache_unavailable",
                "the shared lesson cache cannot be reached; retry shortly",
            ),
        })?;
        Ok(PurgeOut::new(count, paths))
    }
}

/// Whether `given` is the configured secret. Both sides are hashed first so the constant-time
/// comparison always sees 32 bytes and the secret's length cannot leak through timing.
pub fn secret_matches(given: Option<&str>, expected: Option<&SecretString>) -> bool {
    let (Some(given), Some(expected)) = (given, expected) else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.expose_secret().as_bytes());
    given[..].ct_eq(&expected[..]).into()
}

/// The lessons a purge body names: an empty body or `[]` means everything.
///
/// # Errors
/// 400 when the body is not a JSON array of strings (`null` included: a client that meant
/// to name paths and sent nothing must not purge everything), names more than [`MAX_PURGE_PATHS`]
/// paths, or any path is invalid (the error names it).
pub fn purge_paths(body: &[u8]) -> Result<Vec<LessonPath>, ApiError> {
    if body.trim_ascii().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<String> = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("body must be a JSON array of lesson paths, or empty to purge everything: {e}"),
        )
    })?;
    if raw.len() > MAX_PURGE_PATHS {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("at most {MAX_PURGE_PATHS} paths per request; send several requests"),
        ));
    }
    lesson_paths(&raw)
}

/// Each of `raw` as a lesson path, each once, in first-seen order (the canonical form: two
/// spellings of one lesson count once).
///
/// # Errors
/// 400 `invalid_lesson_path` naming the first path refused (`paths[i]`, quoted, cut).
pub fn lesson_paths(raw: &[String]) -> Result<Vec<LessonPath>, ApiError> {
    let mut seen = HashSet::new();
    let mut paths = Vec::with_capacity(raw.len());
    for (i, candidate) in raw.iter().enumerate() {
        let path = LessonPath::parse(candidate).map_err(|e| {
            let quoted: String = candidate.chars().take(QUOTED_PATH_CHARS).collect();
            ApiError::bad_request("invalid_lesson_path", format!("paths[{i}] {quoted:?}: {e}"))
        })?;
        if seen.insert(path.clone()) {
            paths.push(path);
        }
    }
    Ok(paths)
}

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl AdminApi {
    /// Purge the lesson cache
    ///
    /// Drops the named lessons (a bare JSON array of lesson paths, at most 1,000), or every
    /// lesson when the body is empty or `[]`, from every cache tier of every replica, so the
    /// next read fetches them again; a purged copy is kept as stale, served only when the
    /// source fails. Paths are made canonical first, so one purge covers every spelling of a
    /// lesson. A purge of everything runs at most once per
    /// `LESSON_PURGE_ALL_MIN_INTERVAL_SECS` (429 with `Retry-After` otherwise). Needs an API key
    /// with the `lessons:purge` (or `admin`) scope, or the operator secret in `X-Admin-Secret`
    /// (`ADMIN_SECRET`; refused while unset).
    #[oai(
        path = "/admin/invalidate-cache",
        method = "post",
        operation_id = "invalidateLessonCache",
        tag = "ApiTags::Admin"
    )]
    async fn invalidate_cache(
        &self,
        req: &Request,
        /// Lesson paths to purge; empty body or `[]` for everything.
        body: RawJson<Vec<String>, false>,
    ) -> Result<PurgeResponse, ApiError> {
        // The guard admitted an operator: an API key with `lessons:purge`/`admin`, or the
        // operator secret.
        let operator = super::auth::principal(req)?;
        let paths = purge_paths(&body.bytes)?;
        let out = self.purge(&paths).await?;
        let client = super::client::client_ip(req, &self.config.rate_limits.trusted_proxies);
        tracing::info!(
            operator = %operator.user_id,
            client = ?client,
            user_agent = header(req, "user-agent"),
            scope = if paths.is_empty() { "all" } else { "paths" },
            requested = paths.len(),
            purged = out.invalidated_count,
            paths = ?out.paths,
            "lesson cache purged by an operator"
        );
        Ok(PurgeResponse::Ok(Json(out)))
    }

    /// Receive a GitHub webhook
    ///
    /// Verifies `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
    /// `GITHUB_WEBHOOK_SECRET`), then, for a `push` to the book's branch, purges every lesson
    /// whose `.md`/`.mdx` file under the docs folder was added, changed or removed (`status`
    /// `ok`). Other events and other branches are acknowledged as `ignored`, a replayed
    /// delivery as `duplicate`. Configure the webhook with content type `application/json`.
    #[oai(
        path = "/webhooks/github",
        method = "post",
        operation_id = "receiveGithubWebhook",
        tag = "ApiTags::Webhooks"
    )]
    async fn github_webhook(
        &self,
        /// Event name; only `push` is acted on.
        #[oai(name = "X-GitHub-Event")]
        event: Header<Option<String>>,
        /// `sha256=<hex>`: HMAC-SHA256 of the raw body with the webhook secret.
        #[oai(name = "X-Hub-Signature-256")]
        signature: Header<Option<String>>,
        /// Delivery id, logged to match GitHub's delivery log (at most 64 of `[A-Za-z0-9-]`).
        /// A delivery whose signed body was already acted on is answered `duplicate`.
        #[oai(name = "X-GitHub-Delivery")]
        delivery: Header<Option<String>>,
        /// The event payload, exactly as GitHub signed it.
        body: RawJson<PushEventIn>,
    ) -> Result<WebhookResponse, ApiError> {
        let delivery = push::delivery_id(delivery.0.as_deref());
        let Some(secret) = &self.config.lessons.webhook_secret else {
            tracing::warn!(
                delivery,
                "GitHub webhook refused: GITHUB_WEBHOOK_SECRET is not set"
            );
            return Err(ApiError::unauthorized(
                "missing or invalid X-Hub-Signature-256",
            ));
        };
        let signature = signature.0.as_deref();
        if !push::signature_valid(secret.expose_secret().as_bytes(), &body.bytes, signature) {
            tracing::warn!(
                delivery,
                signed = signature.is_some(),
                "GitHub webhook refused: bad signature"
            );
            return Err(ApiError::unauthorized(
                "missing or invalid X-Hub-Signature-256",
            ));
        }
        // After the signature: an unsigned request must not mark a delivery as seen.
        let replay = Deliveries::key(&body.bytes);
        if let Some(lessons) = &self.lessons
            && !lessons.deliveries().first_sighting(replay).await
        {
            tracing::info!(
                delivery,
                "GitHub webhook delivery already acted on; ignored"
            );
            return Ok(WebhookResponse::duplicate());
        }
        let kind = event.0.as_deref().unwrap_or("-");
        if kind != "push" {
            tracing::info!(delivery, event = kind, "GitHub webhook ignored");
            return Ok(WebhookResponse::ignored());
        }
        let push: PushEventIn = serde_json::from_slice(&body.bytes).map_err(|e| {
            ApiError::bad_request("bad_request", format!("push event is not valid JSON: {e}"))
        })?;
        let lessons = &self.config.lessons;
        if !push::targets(&push, &lessons.github_repo, &lessons.github_branch) {
            tracing::info!(delivery, git_ref = %push.git_ref, "push to another repository or branch ignored");
            return Ok(WebhookResponse::ignored());
        }
        let mut paths = push::touched_lessons(&push, &lessons.docs_prefix);
        if paths.is_empty() {
            tracing::info!(delivery, "push touched no lesson");
            return Ok(WebhookResponse::purged(PurgeOut::new(0, &[]), None));
        }
        let scope = if push::tree_changed(&push, &lessons.docs_prefix)
            || paths.len() > crate::domain::sync::MAX_SYNC_PATHS
        {
            crate::domain::sync::SyncScope::Book
        } else {
            crate::domain::sync::SyncScope::Paths(paths.clone())
        };
        if paths.len() > MAX_PURGE_PATHS {
            tracing::info!(
                delivery,
                lessons = paths.len(),
                "push touched too many lessons to list; purging everything"
            );
            paths.clear();
        }
        let out = match self.purge(&paths).await {
            Ok(out) => out,
            Err(e) => {
                // Not purged: a redelivery must be acted on.
                if let Some(lessons) = &self.lessons {
                    lessons.deliveries().forget(replay).await;
                }
                return Err(e);
            }
        };
        let job = match &self.sync {
            Some(sync) => match sync.start(scope, "webhook").await {
                Ok(id) => Some(id.to_string()),
                Err(e) => {
                    // Purged but not queued: a redelivery must be acted on.
                    if let Some(lessons) = &self.lessons {
                        lessons.deliveries().forget(replay).await;
                    }
                    return Err(e.into());
                }
            },
            None => None,
        };
        tracing::info!(
            delivery,
            lessons = paths.len(),
            purged = out.invalidated_count,
            paths = ?out.paths,
            sync_job = job.as_deref().unwrap_or("-"),
            "lesson cache purged and a sync queued by a GitHub push"
        );
        Ok(WebhookResponse::purged(out, job))
    }
}
