//! The service's own identities: users who signed in with GitHub or Google, the provider
//! identities linked to them, and the refresh tokens of their sessions.
//!
//! A user is created at the first sign-in. A second provider joins the same user only when both
//! providers verified the same e-mail address; anything else is a separate user, so an
//! unverified address can never take over an account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::principal::{Principal, Tier};

/// Prefix of every refresh token (`rt_` + 43 base64url characters of 32 random bytes).
pub const REFRESH_TOKEN_PREFIX: &str = "rt_";

/// Longest refresh token looked at; anything longer is refused before any hashing or lookup.
pub const MAX_REFRESH_TOKEN_LEN: usize = 128;

/// Roles a user may hold (`study-mode-api users set-role`).
pub const ROLES: &[&str] = &["student", "teacher", "admin"];

/// The role of a new user.
pub const DEFAULT_ROLE: &str = "student";

/// Prefix of the user ids this service mints (`usr_` + a UUIDv7 in simple form), so they never
/// collide with the SSO's subjects or `apikey:` principals.
pub const USER_ID_PREFIX: &str = "usr_";

/// A sign-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// github.com (or GitHub Enterprise).
    Github,
    /// accounts.google.com (OpenID Connect).
    Google,
}

impl Provider {
    /// Every provider, in the order `/auth/providers` lists them.
    pub const ALL: [Provider; 2] = [Provider::Github, Provider::Google];

    /// The name in URLs, configuration and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Google => "google",
        }
    }

    /// The name shown on a sign-in button.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Github => "GitHub",
            Provider::Google => "Google",
        }
    }

    /// The provider named `name` (exact lowercase).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Who a provider says signed in, after its token exchange (and, for Google, its ID token)
/// checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProfile {
    /// Which provider.
    pub provider: Provider,
    /// The provider's stable id of the account (GitHub's numeric id, Google's `sub`).
    pub subject: String,
    /// The account's e-mail address, when the provider shares one.
    pub email: Option<String>,
    /// Whether the provider verified that address.
    pub email_verified: bool,
    /// Display name (or login, when the account has no name).
    pub name: Option<String>,
}

/// A user of the service's own sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// `usr_…`, the `sub` of the access tokens.
    pub id: String,
    /// E-mail address, lowercased.
    pub email: Option<String>,
    /// Whether a provider verified `email`.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Quota tier (`free` for a new user).
    pub tier: Tier,
    /// One of [`ROLES`].
    pub role: String,
    /// First sign-in.
    pub created_at: DateTime<Utc>,
    /// When an operator disabled the user; a disabled user cannot refresh or sign in.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl User {
    /// The caller an access token of this user stands for.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id.clone(),
            organization_id: None,
            email: self.email.clone(),
            name: self.name.clone(),
            role: Some(self.role.clone()),
            tier: if self.role == "admin" {
                Tier::Admin
            } else {
                self.tier
            },
        }
    }

    /// Whether the user may sign in and refresh.
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// The e-mail address as stored and compared: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// One stored refresh token: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Lowercase hex SHA-256 of the token.
    pub hash: String,
    /// The session: every token rotated from one sign-in shares it, and reuse of any rotated
    /// token revokes all of them.
    pub family_id: String,
    /// Whose session.
    pub user_id: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
    /// Hash of the token that replaced it at a refresh; presenting a replaced token is reuse.
    pub replaced_by: Option<String>,
    /// When its family was revoked (logout, reuse, account deletion).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a presented refresh token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// Current and live: may be rotated.
    Live,
    /// Already rotated: someone replays an old token (reuse; revoke the family).
    Reused,
    /// Revoked (logout, reuse, deletion).
    Revoked,
    /// Past its expiry.
    Expired,
}

impl RefreshTokenRecord {
    /// The verdict at `now`. Revocation wins over reuse: a revoked family is only refused.
    pub fn verdict(&self, now: DateTime<Utc>) -> RefreshVerdict {
        if self.revoked_at.is_some() {
            RefreshVerdict::Revoked
        } else if self.replaced_by.is_some() {
            RefreshVerdict::Reused
        } else if now >= self.expires_at {
            RefreshVerdict::Expired
        } else {
            RefreshVerdict::Live
        }
    }
}

/// Lowercase hex SHA-256 of a refresh token: what is stored and looked up.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` looks like a refresh token this service issues (checked before hashing).
pub fn plausible_refresh_token(token: &str) -> bool {
    token.len() <= MAX_REFRESH_TOKEN_LEN
        && token.starts_with(REFRESH_TOKEN_PREFIX)
        && token[REFRESH_TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What `DELETE /v1/me` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Threads deleted (their items, study state and feedback with them).
    pub threads: u64,
    /// Items deleted.
    pub items: u64,
    /// Feedback entries deleted.
    pub feedback: u64,
    /// Refresh tokens revoked.
    pub refresh_tokens: u64,
    /// Whether a user account of the own sign-in was deleted.
    pub account: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn record(now: DateTime<Utc>) -> RefreshTokenRecord {
        RefreshTokenRecord {
            hash: hash_refresh_token("rt_x"),
            family_id: "f".into(),
            user_id: "usr_1".into(),
            issued_at: now,
            expires_at: now + Duration::days(7),
            replaced_by: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_refresh_token_is_live_until_rotated_revoked_or_expired() {
        let now = Utc::now();
        let live = record(now);
        assert_eq!(live.verdict(now), RefreshVerdict::Live);
        assert_eq!(
            live.verdict(now + Duration::days(7)),
            RefreshVerdict::Expired
        );
        let rotated = RefreshTokenRecord {
            replaced_by: Some("h".into()),
            ..live.clone()
        };
        assert_eq!(rotated.verdict(now), RefreshVerdict::Reused);
        let revoked = RefreshTokenRecord {
            revoked_at: Some(now),
            ..rotated
        };
        assert_eq!(revoked.verdict(now), RefreshVerdict::Revoked);
    }

    #[test]
    fn only_plausible_tokens_are_looked_up() {
        assert!(plausible_refresh_token("rt_abcDEF-_09"));
        assert!(!plausible_refresh_token("abc"));
        assert!(!plausible_refresh_token("rt_a b"));
        assert!(!plausible_refresh_token(&format!("rt_{}", "a".repeat(200))));
    }

    #[test]
    fn an_admin_role_makes_an_admin_tier() {
        let user = User {
            id: "usr_1".into(),
            email: Some("a@b.c".into()),
            email_verified: true,
            name: None,
            tier: Tier::Free,
            role: "admin".into(),
            created_at: Utc::now(),
            disabled_at: None,
        };
        assert_eq!(user.principal().tier, Tier::Admin);
        assert_eq!(normalize_email("  A@B.C "), "a@b.c");
        assert_eq!(Provider::parse("github"), Some(Provider::Github));
        assert_eq!(Provider::parse("GitHub"), None);
    }
}
