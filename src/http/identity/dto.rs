//! Wire types of `/auth/*`, `/.well-known/jwks.json` and `/v1/me*`.

use chrono::{DateTime, Utc};
use poem_openapi::{ApiResponse, Enum, Object, payload::Json};

use crate::domain::identity::Provider;

/// A sign-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ProviderName {
    /// GitHub.
    Github,
    /// Google.
    Google,
}

impl From<Provider> for ProviderName {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Github => Self::Github,
            Provider::Google => Self::Google,
        }
    }
}

/// One way to sign in.
#[derive(Debug, Object)]
pub struct ProviderOut {
    /// Name in URLs.
    pub name: ProviderName,
    /// Name for the button.
    pub display_name: String,
    /// Where the button sends the browser (append `?redirect_to=…`).
    pub login_url: String,
}

/// What the sign-in page can offer.
#[derive(Debug, Object)]
pub struct ProvidersOut {
    /// Enabled providers; empty when the service issues no tokens of its own.
    pub providers: Vec<ProviderOut>,
}

/// `POST /auth/refresh` and `POST /auth/logout` body of clients that keep the refresh token
/// themselves (CLI, SDK). Browsers send `{}` and the `sm_refresh` cookie.
#[derive(Debug, Object)]
pub struct RefreshIn {
    /// The refresh token (`rt_…`); left out when the cookie carries it.
    #[oai(validator(max_length = 128))]
    pub refresh_token: Option<String>,
}

/// `token_type` of a token answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TokenType {
    /// `Authorization: Bearer <access_token>`.
    Bearer,
}

/// A new access token.
#[derive(Debug, Object)]
pub struct TokenOut {
    /// JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The new refresh token, for clients that sent theirs in the body; browsers get it in the
    /// `sm_refresh` cookie instead and never see it.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An access token of this service's own sign-in.
    OwnToken,
    /// A JWT of the SSO.
    SsoJwt,
    /// An opaque token of the SSO.
    SsoOpaque,
    /// An API key.
    ApiKey,
    /// The development principal (`DEV_MODE`/`TEST_MODE`).
    Development,
    /// The operator secret.
    AdminSecret,
}

/// Quota tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum TierOut {
    /// Free.
    Free,
    /// Premium.
    Premium,
    /// Admin.
    Admin,
}

impl From<crate::domain::principal::Tier> for TierOut {
    fn from(t: crate::domain::principal::Tier) -> Self {
        use crate::domain::principal::Tier;
        match t {
            Tier::Free => Self::Free,
            Tier::Premium => Self::Premium,
            Tier::Admin => Self::Admin,
        }
    }
}

/// The caller.
#[derive(Debug, Object)]
pub struct MeOut {
    /// User id (the `sub`; `usr_…` for the own sign-in, `apikey:<id>` for API keys).
    pub user_id: String,
    /// How the request was authenticated.
    pub credential: CredentialKind,
    /// Quota tier.
    pub tier: TierOut,
    /// Role, when known.
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<String>,
    /// E-mail, when known.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Display name, when known.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Organisation, when known.
    #[oai(skip_serializing_if_is_none)]
    pub organization_id: Option<String>,
    /// Providers linked to an own account (empty for other principals).
    pub providers: Vec<ProviderName>,
}

/// A public key of `/.well-known/jwks.json` (RFC 7517).
#[derive(Debug, Object)]
pub struct JwkOut {
    /// `OKP` (Ed25519) or `RSA`.
    pub kty: String,
    /// Key id, as in the tokens' `kid` header.
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub alg: String,
    /// Always `sig`.
    #[oai(rename = "use")]
    pub use_: String,
    /// Curve of an OKP key (`Ed25519`).
    #[oai(skip_serializing_if_is_none)]
    pub crv: Option<String>,
    /// Public key of an OKP key.
    #[oai(skip_serializing_if_is_none)]
    pub x: Option<String>,
    /// Modulus of an RSA key.
    #[oai(skip_serializing_if_is_none)]
    pub n: Option<String>,
    /// Exponent of an RSA key.
    #[oai(skip_serializing_if_is_none)]
    pub e: Option<String>,
}

/// The keys other services verify this service's access tokens with; empty when it signs with
/// a shared secret (HS256/384/512) or issues no tokens.
#[derive(Debug, Object)]
pub struct JwksOut {
    /// Keys.
    pub keys: Vec<JwkOut>,
}

/// Who wrote an exported item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ExportRole {
    /// The student.
    User,
    /// The tutor.
    Tutor,
    /// Lesson context the service added for the tutor (not shown in the chat).
    Context,
}

/// One stored item.
#[derive(Debug, Object)]
pub struct ExportItem {
    /// Id.
    pub id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub role: ExportRole,
    /// Its text.
    pub text: String,
}

/// One rating.
#[derive(Debug, Object)]
pub struct ExportFeedback {
    /// The rated item.
    pub item_id: String,
    /// `positive` or `negative`.
    pub kind: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One thread with everything stored about it.
#[derive(Debug, Object)]
pub struct ExportThread {
    /// Id.
    pub id: String,
    /// Title, once set.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The lesson it studies, when any.
    #[oai(skip_serializing_if_is_none)]
    pub lesson_path: Option<String>,
    /// Items, oldest first.
    pub items: Vec<ExportItem>,
    /// The tutor's progress through the lesson (teach mode), as stored.
    #[oai(skip_serializing_if_is_none)]
    pub study_state: Option<serde_json::Value>,
    /// Ratings.
    pub feedback: Vec<ExportFeedback>,
}

/// Everything the service stores about the caller.
#[derive(Debug, Object)]
pub struct ExportOut {
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The caller.
    pub user: MeOut,
    /// The own account, when the caller signed in with GitHub or Google.
    #[oai(skip_serializing_if_is_none)]
    pub account_created_at: Option<DateTime<Utc>>,
    /// Threads, oldest first.
    pub threads: Vec<ExportThread>,
}

/// What `DELETE /v1/me` removed.
#[derive(Debug, Object)]
pub struct ErasedOut {
    /// Threads deleted.
    pub threads: u64,
    /// Items deleted.
    pub items: u64,
    /// Ratings deleted.
    pub feedback: u64,
    /// Refresh tokens revoked (own sign-in): every session ended.
    pub refresh_tokens_revoked: u64,
    /// Whether an own account was deleted.
    pub account_deleted: bool,
}

/// `GET /auth/providers`.
#[derive(ApiResponse)]
pub enum ProvidersResponse {
    /// Enabled providers.
    #[oai(status = 200)]
    Ok(Json<ProvidersOut>),
}

/// A redirect that sets a cookie.
#[derive(ApiResponse)]
pub enum RedirectResponse {
    /// To the provider (login) or back to the application (callback).
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Set-Cookie")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// `POST /auth/refresh`.
#[derive(ApiResponse)]
pub enum TokenResponse {
    /// A new access token (and refresh token).
    #[oai(status = 200)]
    Ok(
        Json<TokenOut>,
        #[oai(header = "Set-Cookie")] Option<String>,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// `POST /auth/logout`.
#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Signed out; the cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

/// `GET /auth/me`.
#[derive(ApiResponse)]
pub enum MeResponse {
    /// The caller.
    #[oai(status = 200)]
    Ok(Json<MeOut>),
}

/// `GET /.well-known/jwks.json`.
#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The public keys.
    #[oai(status = 200)]
    Ok(Json<JwksOut>),
}

/// `GET /v1/me/export`.
#[derive(ApiResponse)]
pub enum ExportResponse {
    /// Everything stored about the caller.
    #[oai(status = 200)]
    Ok(Json<ExportOut>),
}

/// `DELETE /v1/me`.
#[derive(ApiResponse)]
pub enum ErasedResponse {
    /// What was deleted.
    #[oai(status = 200)]
    Ok(Json<ErasedOut>),
}
