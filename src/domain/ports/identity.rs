//! Ports of the own sign-in: users and their provider identities, refresh tokens, the OAuth
//! providers, and the student's own data (export and erasure).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::domain::identity::{Provider, ProviderProfile, RefreshTokenRecord, User};
use crate::domain::principal::Tier;
use crate::domain::teach::StudyState;
use crate::domain::thread::{FeedbackKind, Thread, ThreadItem};

/// Users and the provider identities linked to them.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// The user `profile` signs in as, in one transaction:
    /// 1. the user already linked to `(profile.provider, profile.subject)`, with its e-mail
    ///    and name refreshed from the profile;
    /// 2. else, when the profile's e-mail is verified and exactly one user holds that
    ///    address verified, that user, with the identity linked to it;
    /// 3. else a new user `new_id` (tier `free`, role `student`) with the identity linked.
    ///
    /// An unverified address never joins an existing user, nor does a verified one join a user
    /// whose address is unverified. Two concurrent first sign-ins of one identity yield one
    /// user.
    ///
    /// # Errors
    /// - MUST return [`StoreError::Unavailable`] when no connection could be had in time;
    ///   nothing is written on any error.
    async fn sign_in(
        &self,
        profile: &ProviderProfile,
        new_id: &str,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// The user `id`; `None` when there is none.
    async fn get(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Up to `limit` users, oldest first.
    async fn list(&self, limit: u64) -> Result<Vec<User>, StoreError>;

    /// Sets the user's tier; returns the updated user.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no user `id`.
    async fn set_tier(&self, id: &str, tier: Tier) -> Result<User, StoreError>;

    /// Sets the user's role (one of [`crate::domain::identity::ROLES`]); returns the user.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no user `id`.
    async fn set_role(&self, id: &str, role: &str) -> Result<User, StoreError>;

    /// Disables the user at `at` (`None`: enables it again); disabling twice keeps the first
    /// time. Returns the user.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no user `id`.
    async fn set_disabled(&self, id: &str, at: Option<DateTime<Utc>>) -> Result<User, StoreError>;

    /// Deletes the user and its identities; `false` when there was none.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;

    /// The providers linked to user `id`, in the order they were linked.
    async fn identities(&self, id: &str) -> Result<Vec<(Provider, String)>, StoreError>;
}

/// How a rotation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now replaced by the new one, which is stored.
    Rotated,
    /// The old token was no longer live (rotated, revoked or deleted meanwhile, e.g. by a
    /// concurrent refresh): nothing was written.
    Lost,
}

/// Refresh tokens, stored as hashes with their family.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + 'static {
    /// Stores a new token (the first of a family at sign-in).
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the hash exists.
    async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;

    /// The token with this hash, whatever its state; `None` when unknown.
    async fn find(&self, hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;

    /// Marks `old_hash` replaced by `new.hash` and stores `new`, in one transaction, only when
    /// `old_hash` is neither replaced nor revoked yet. Of two concurrent rotations of one token
    /// exactly one is [`Rotation::Rotated`].
    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshTokenRecord,
    ) -> Result<Rotation, StoreError>;

    /// Revokes every token of the family at `at` (the first revocation time stays); returns
    /// how many were live.
    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Revokes every token of the user at `at`; returns how many were live.
    async fn revoke_user(&self, user_id: &str, at: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Whether the family still has a token that is neither revoked nor expired at `now`
    /// (the session the access tokens of that family belong to is alive).
    async fn family_alive(&self, family_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// Failure of an [`OAuthProvider`] call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused (bad or replayed code, wrong PKCE verifier, a forged or expired ID
    /// token, no verified e-mail where one is required): the sign-in fails, a 401. The text
    /// is short and secret-free.
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or answered garbage: a 503, try again later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// Where to send the browser, and what must come back with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStart {
    /// The provider's authorization URL with client id, redirect URI, scopes, `state`,
    /// `code_challenge` (S256) and, for OpenID Connect, `nonce`.
    pub url: String,
    /// The `state` the callback must bring back.
    pub state: String,
    /// The PKCE verifier of the challenge in `url`.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry (OpenID Connect only).
    pub nonce: Option<String>,
}

/// One OAuth 2 / OpenID Connect provider (tests use fake providers on loopback, not mocks).
#[async_trait]
pub trait OAuthProvider: Send + Sync + 'static {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// A fresh authorization request (new state, PKCE pair and nonce) whose callback is
    /// `redirect_uri`.
    ///
    /// # Errors
    /// [`OAuthError::Unavailable`] when the provider's endpoints are not known yet and cannot
    /// be discovered now.
    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, OAuthError>;

    /// Exchanges `code` (with the PKCE verifier) and reads who signed in; for OpenID Connect
    /// the ID token's signature, issuer, audience, expiry and `nonce` are verified.
    ///
    /// # Errors
    /// [`OAuthError::Refused`] for anything the provider or the checks refuse,
    /// [`OAuthError::Unavailable`] when the provider cannot be reached in time.
    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: Option<&str>,
        redirect_uri: &str,
    ) -> Result<ProviderProfile, OAuthError>;
}

/// One feedback entry, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackRecord {
    /// The rated item.
    pub item_id: String,
    /// The rating.
    pub kind: FeedbackKind,
    /// When it was given.
    pub created_at: DateTime<Utc>,
}

/// One thread with everything stored about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadExport {
    /// The thread.
    pub thread: Thread,
    /// Every item, hidden ones included, oldest first.
    pub items: Vec<ThreadItem>,
    /// The study state of teach mode, when any.
    pub study_state: Option<StudyState>,
    /// Every rating.
    pub feedback: Vec<FeedbackRecord>,
}

/// What was deleted of a user's threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadsErased {
    /// Threads.
    pub threads: u64,
    /// Items.
    pub items: u64,
    /// Feedback entries.
    pub feedback: u64,
}

/// Everything stored of one user's study threads, for export and erasure.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserDataStore: Send + Sync + 'static {
    /// Every thread of `user_id` (oldest first), at most `max_threads` of them, with their
    /// items, study state and feedback.
    async fn export(
        &self,
        user_id: &str,
        max_threads: u64,
    ) -> Result<Vec<ThreadExport>, StoreError>;

    /// Deletes every thread of `user_id` with its items, study state and feedback, in one
    /// transaction; says how many of each went.
    async fn erase(&self, user_id: &str) -> Result<ThreadsErased, StoreError>;
}
