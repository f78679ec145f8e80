//! The caller and its data: `GET /auth/me`, `GET /v1/me/export`, `DELETE /v1/me`, and the
//! public keys of the own tokens at `/.well-known/jwks.json`.

use std::sync::Arc;

use chrono::Utc;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::dto::*;
use crate::app::account::AccountService;
use crate::app::auth::{Caller, Via};
use crate::app::identity::IdentityService;
use crate::domain::identity::Provider;
use crate::domain::ports::ThreadExport;
use crate::domain::rate_limit::Bucket;
use crate::domain::thread::{FeedbackKind, ItemKind};
use crate::http::error::{ApiError, configured};
use crate::http::tags::ApiTags;

/// The caller's operations.
pub struct MeApi {
    account: Option<Arc<AccountService>>,
    identity: Option<Arc<IdentityService>>,
}

impl MeApi {
    /// The operations over the account use cases (`None` only when printing the spec).
    pub fn new(
        account: Option<Arc<AccountService>>,
        identity: Option<Arc<IdentityService>>,
    ) -> Self {
        Self { account, identity }
    }
}

fn credential(via: &Via) -> CredentialKind {
    match via {
        Via::Own => CredentialKind::OwnToken,
        Via::Jwt => CredentialKind::SsoJwt,
        Via::Opaque => CredentialKind::SsoOpaque,
        Via::ApiKey { .. } => CredentialKind::ApiKey,
        Via::AdminSecret => CredentialKind::AdminSecret,
        Via::Development => CredentialKind::Development,
    }
}

fn me_out(caller: &Caller, providers: Vec<Provider>) -> MeOut {
    let p = &caller.principal;
    MeOut {
        user_id: p.user_id.clone(),
        credential: credential(&caller.via),
        tier: p.tier.into(),
        role: p.role.clone(),
        email: p.email.clone(),
        name: p.name.clone(),
        organization_id: p.organization_id.clone(),
        providers: providers.into_iter().map(Into::into).collect(),
    }
}

fn export_thread(t: ThreadExport) -> ExportThread {
    let items = t
        .items
        .iter()
        .map(|item| ExportItem {
            id: item.id.clone(),
            created_at: item.created_at,
            role: match item.kind {
                ItemKind::UserMessage { .. } => ExportRole::User,
                ItemKind::AssistantMessage { .. } => ExportRole::Tutor,
                ItemKind::HiddenContext { .. } => ExportRole::Context,
            },
            text: item.kind.text(),
        })
        .collect();
    let feedback = t
        .feedback
        .iter()
        .map(|f| ExportFeedback {
            item_id: f.item_id.clone(),
            kind: match f.kind {
                FeedbackKind::Positive => "positive".into(),
                FeedbackKind::Negative => "negative".into(),
            },
            created_at: f.created_at,
        })
        .collect();
    ExportThread {
        id: t.thread.id.clone(),
        title: t.thread.title.clone(),
        created_at: t.thread.created_at,
        lesson_path: t
            .thread
            .metadata
            .get("lesson_path")
            .and_then(|p| p.as_str())
            .map(str::to_owned),
        items,
        study_state: t
            .study_state
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok()),
        feedback,
    }
}

fn store_error(err: crate::domain::ports::StoreError) -> ApiError {
    ApiError::from(err)
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl MeApi {
    /// The caller
    ///
    /// Who the credential of this request stands for, whatever its kind (own access token,
    /// SSO token, API key, development principal).
    #[oai(
        path = "/auth/me",
        method = "get",
        operation_id = "getMe",
        tag = "ApiTags::Auth"
    )]
    async fn me(&self, req: &Request) -> Result<MeResponse, ApiError> {
        let caller = crate::http::auth::admitted(req)?;
        let providers = match (&self.identity, &caller.via) {
            (Some(identity), Via::Own) => identity
                .linked_providers(&caller.principal.user_id)
                .await
                .map_err(store_error)?,
            _ => Vec::new(),
        };
        Ok(MeResponse::Ok(Json(me_out(caller, providers))))
    }

    /// Public keys of the own access tokens
    ///
    /// The JWK set other services verify this service's access tokens with (EdDSA or RS256);
    /// empty when tokens are signed with a shared secret or not issued at all.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks",
        tag = "ApiTags::Auth"
    )]
    async fn jwks(&self) -> JwksResponse {
        let keys = self
            .identity
            .as_ref()
            .map(|i| i.issuer().keys().jwks().keys)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|jwk| {
                let value = serde_json::to_value(&jwk).ok()?;
                let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                Some(JwkOut {
                    kty: text("kty")?,
                    kid: text("kid")?,
                    alg: text("alg")?,
                    use_: "sig".into(),
                    crv: text("crv"),
                    x: text("x"),
                    n: text("n"),
                    e: text("e"),
                })
            })
            .collect();
        JwksResponse::Ok(Json(JwksOut { keys }))
    }

    /// Export my data
    ///
    /// Everything the service stores about the caller: every thread with its items, study
    /// progress and ratings, and the own account when there is one.
    #[oai(
        path = "/v1/me/export",
        method = "get",
        operation_id = "exportMyData",
        tag = "ApiTags::Threads"
    )]
    async fn export(&self, req: &Request) -> Result<ExportResponse, ApiError> {
        crate::http::auth::caller(req, Bucket::Api).await?;
        let caller = crate::http::auth::admitted(req)?;
        let account = configured(&self.account, "accounts")?;
        let export = account.export(caller).await.map_err(store_error)?;
        let providers = match (&self.identity, &export.account) {
            (Some(identity), Some(user)) => identity
                .linked_providers(&user.id)
                .await
                .map_err(store_error)?,
            _ => Vec::new(),
        };
        Ok(ExportResponse::Ok(Json(ExportOut {
            exported_at: Utc::now(),
            user: me_out(caller, providers),
            account_created_at: export.account.as_ref().map(|u| u.created_at),
            threads: export.threads.into_iter().map(export_thread).collect(),
        })))
    }

    /// Delete my data
    ///
    /// Deletes every thread of the caller with its items, study progress and ratings, the own
    /// account when there is one (ending all its sessions). SSO tokens and API keys stay valid
    /// where they are managed (the SSO; `study-mode-api keys revoke`). The answer says what went.
    #[oai(
        path = "/v1/me",
        method = "delete",
        operation_id = "deleteMyData",
        tag = "ApiTags::Threads"
    )]
    async fn erase(&self, req: &Request) -> Result<ErasedResponse, ApiError> {
        crate::http::auth::caller(req, Bucket::Api).await?;
        let caller = crate::http::auth::admitted(req)?;
        let account = configured(&self.account, "accounts")?;
        let erased = account.erase(caller).await.map_err(store_error)?;
        Ok(ErasedResponse::Ok(Json(ErasedOut {
            threads: erased.threads,
            items: erased.items,
            feedback: erased.feedback,
            refresh_tokens_revoked: erased.refresh_tokens,
            account_deleted: erased.account,
        })))
    }
}
