//! Sessions: the refresh token family a sign-in starts, rotated at every refresh and revoked
//! whole at logout or when a replaced token comes back.

use chrono::Utc;

use super::IdentityService;
use super::secrets;
use super::tokens::AccessToken;
use crate::domain::identity::{
    RefreshTokenRecord, RefreshVerdict, User, hash_refresh_token, plausible_refresh_token,
};
use crate::domain::ports::{Rotation, StoreError};

/// An open session: a new access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: User,
    /// A fresh access token.
    pub access: AccessToken,
    /// The refresh token to present next time (shown once, stored only as a hash).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

/// Why a refresh or logout was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown, malformed, expired or revoked token; a disabled or deleted account.
    #[error("{0}")]
    Invalid(&'static str),
    /// A token that was already rotated came back: the whole session was revoked.
    #[error("refresh token reused: the session was revoked, sign in again")]
    Reused,
    /// The token was rotated moments ago by a concurrent refresh of the same session; the
    /// session lives on with the token that refresh received.
    #[error("refresh token already rotated by a concurrent refresh; use the newer one")]
    Superseded,
    /// The database cannot be reached now.
    #[error("sessions are unavailable right now; try again")]
    Unavailable,
}

impl SessionError {
    /// The bounded reason label of the security event.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::Reused => "reused",
            Self::Superseded => "superseded",
            Self::Unavailable => "unavailable",
        }
    }
}

fn unavailable(err: StoreError) -> SessionError {
    tracing::warn!(error = %err, "session store failed");
    SessionError::Unavailable
}

impl IdentityService {
    fn new_record(&self, user_id: &str, family_id: &str) -> (String, RefreshTokenRecord) {
        let token = secrets::refresh_token();
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.settings.refresh_ttl)
            .unwrap_or(chrono::Duration::days(7));
        let record = RefreshTokenRecord {
            hash: hash_refresh_token(&token),
            family_id: family_id.to_string(),
            user_id: user_id.to_string(),
            issued_at: now,
            expires_at: now + ttl,
            replaced_by: None,
            revoked_at: None,
        };
        (token, record)
    }

    fn grace(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.reuse_grace).unwrap_or_default()
    }

    fn session(
        &self,
        user: User,
        refresh_token: String,
        family_id: &str,
    ) -> Result<Session, StoreError> {
        let access = self
            .issuer
            .issue(&user, family_id)
            .map_err(StoreError::Unexpected)?;
        Ok(Session {
            user,
            access,
            refresh_token,
            refresh_expires_in: self.settings.refresh_ttl.as_secs(),
        })
    }

    /// Starts a session (a new refresh token family) for `user`.
    pub(super) async fn open_session(&self, user: User) -> Result<Session, StoreError> {
        let family = uuid::Uuid::now_v7().simple().to_string();
        let (token, record) = self.new_record(&user.id, &family);
        self.tokens.insert(&record).await?;
        self.session(user, token, &family)
    }

    /// Replaces `presented` by a new refresh token and issues a new access token.
    ///
    /// # Errors
    /// [`SessionError::Invalid`] for anything not live, [`SessionError::Reused`] (and the
    /// family revoked) for a token already replaced, [`SessionError::Unavailable`].
    pub async fn refresh(&self, presented: &str) -> Result<Session, SessionError> {
        let result = self.try_refresh(presented).await;
        match &result {
            Ok(session) => self.events.refreshed(&session.user.id),
            Err(err) => self.events.refresh_failed(err),
        }
        result
    }

    async fn lookup(&self, presented: &str) -> Result<RefreshTokenRecord, SessionError> {
        if !plausible_refresh_token(presented) {
            return Err(SessionError::Invalid("malformed refresh token"));
        }
        self.tokens
            .find(&hash_refresh_token(presented))
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::Invalid("unknown refresh token"))
    }

    async fn try_refresh(&self, presented: &str) -> Result<Session, SessionError> {
        let record = self.lookup(presented).await?;
        match record.verdict(Utc::now()) {
            RefreshVerdict::Live => {}
            RefreshVerdict::Reused => return Err(self.replayed(&record).await),
            RefreshVerdict::Revoked => {
                return Err(SessionError::Invalid("refresh token revoked"));
            }
            RefreshVerdict::Expired => return Err(SessionError::Invalid("refresh token expired")),
        }
        let user = self
            .users
            .get(&record.user_id)
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::Invalid("the account no longer exists"))?;
        if !user.is_active() {
            return Err(SessionError::Invalid("this account is disabled"));
        }
        let (token, next) = self.new_record(&user.id, &record.family_id);
        match self
            .tokens
            .rotate(&record.hash, &next)
            .await
            .map_err(unavailable)?
        {
            Rotation::Rotated => self
                .session(user, token, &record.family_id)
                .map_err(unavailable),
            // Someone rotated or revoked it between the read and the write: the same token was
            // presented twice at once, which is reuse as well.
            Rotation::Lost => Err(self.replayed(&record).await),
        }
    }

    /// A replaced token came back: superseded within the reuse grace
    /// ([`super::IdentitySettings::reuse_grace`]) of its rotation, else reuse.
    async fn replayed(&self, record: &RefreshTokenRecord) -> SessionError {
        let fresh = match &record.replaced_by {
            Some(next) => match self.tokens.find(next).await {
                Ok(Some(next)) => {
                    next.revoked_at.is_none() && Utc::now() - next.issued_at < self.grace()
                }
                Ok(None) => false,
                Err(err) => return unavailable(err),
            },
            // Lost the race to a rotation made while this one ran: concurrent by definition.
            None => {
                !self.settings.reuse_grace.is_zero()
                    && self
                        .tokens
                        .find(&record.hash)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|now| now.revoked_at.is_none())
            }
        };
        if fresh {
            return SessionError::Superseded;
        }
        self.reused(record).await
    }

    async fn reused(&self, record: &RefreshTokenRecord) -> SessionError {
        let revoked = self
            .tokens
            .revoke_family(&record.family_id, Utc::now())
            .await;
        // After the write: a check between a forget and the write would cache "alive" again.
        self.seen.forget(&record.family_id);
        match revoked {
            Ok(revoked) => self.events.reuse_detected(&record.user_id, revoked),
            Err(err) => {
                // The token is refused anyway; the family stays until its tokens expire.
                tracing::error!(error = %err, user_id = %record.user_id,
                    "refresh token reuse detected but the session could not be revoked");
                self.events.reuse_detected(&record.user_id, 0);
            }
        }
        SessionError::Reused
    }

    /// Ends the session of `presented` (revokes its whole family). A token already revoked
    /// or replaced ends its family too; an unknown one is refused.
    ///
    /// # Errors
    /// [`SessionError::Invalid`] for a malformed or unknown token, [`SessionError::Unavailable`].
    pub async fn logout(&self, presented: &str) -> Result<(), SessionError> {
        let record = self.lookup(presented).await?;
        self.tokens
            .revoke_family(&record.family_id, Utc::now())
            .await
            .map_err(unavailable)?;
        self.seen.forget(&record.family_id);
        self.events.logged_out(&record.user_id);
        Ok(())
    }
}
