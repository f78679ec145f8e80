//! One sign-in, in one write transaction, following the three steps of
//! [`UserStore::sign_in`](crate::domain::ports::UserStore::sign_in):
//! 1. the user linked to the identity, refreshed from the profile;
//! 2. else the one user holding the profile's address verified, when the profile verified it
//!    too, with the identity linked to it;
//! 3. else a new user with the identity linked.
//!
//! Refreshing keeps what the profile does not say: a profile without an address or name keeps
//! the stored one (GitHub hides private addresses), and the same address stays verified when
//! one provider verified it. A verified address another user already holds verified is stored
//! unverified, so one address never verifies two users.
//!
//! Concurrent first sign-ins meet at a unique key (the identity's, or the verified address'):
//! the loser's transaction rolls back with [`StoreError::Conflict`], and the store runs it once
//! more, which then finds the winner's rows. A user deleted while an identity is being linked
//! to it ends the same way (the second run makes a new user).

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, SqlErr,
};

use super::entity::{self as user, Column};
use super::{SqlUserStore, from_row, identity};
use crate::adapters::sql::{Database, classify, txn};
use crate::domain::identity::{DEFAULT_ROLE, ProviderProfile, User, normalize_email};
use crate::domain::ports::StoreError;
use crate::domain::principal::Tier;

/// Longest provider subject accepted (GitHub ids are digits, Google `sub`s 21 digits).
const MAX_SUBJECT_LEN: usize = 255;
/// Longest e-mail address kept (RFC 5321 path limit); a longer one is treated as absent.
const MAX_EMAIL_LEN: usize = 320;
/// Longest display name kept, in characters; a longer one is cut.
const MAX_NAME_CHARS: usize = 200;
/// Longest new user id accepted (`usr_` + 32 hex digits, with room to spare).
const MAX_ID_LEN: usize = 64;

/// A sign-in whose profile values are bounded, ready to run (twice at most).
#[derive(Debug)]
pub(super) struct SignIn {
    provider: &'static str,
    subject: String,
    /// Normalized; `None` when absent or unusable.
    email: Option<String>,
    /// Whether the provider verified `email` (false without one).
    verified: bool,
    name: Option<String>,
    new_id: String,
    now: i64,
}

impl SignIn {
    /// Checks and bounds what the provider and the caller gave.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] for an empty, overlong or non-printable subject or id: a
    /// provider or caller bug, never stored.
    pub(super) fn bounded(
        profile: &ProviderProfile,
        new_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let printable = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && !s.chars().any(|c| c.is_control() || c == ' ')
        };
        if !printable(&profile.subject, MAX_SUBJECT_LEN) {
            return Err(StoreError::Unexpected(anyhow!(
                "{} subject of {} bytes is empty, too long or not printable",
                profile.provider.as_str(),
                profile.subject.len()
            )));
        }
        if !printable(new_id, MAX_ID_LEN) {
            return Err(StoreError::Unexpected(anyhow!(
                "new user id of {} bytes is empty, too long or not printable",
                new_id.len()
            )));
        }
        let email = profile
            .email
            .as_deref()
            .map(normalize_email)
            .filter(|e| printable(e, MAX_EMAIL_LEN) && e.contains('@'));
        let name = profile.name.as_deref().and_then(|n| {
            let kept: String = n
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME_CHARS)
                .collect();
            (!kept.is_empty()).then_some(kept)
        });
        Ok(Self {
            provider: profile.provider.as_str(),
            subject: profile.subject.clone(),
            verified: profile.email_verified && email.is_some(),
            email,
            name,
            new_id: new_id.to_owned(),
            now: now.timestamp_micros(),
        })
    }

    /// One attempt, in its own transaction.
    pub(super) async fn run(&self, db: &Database) -> Result<User, StoreError> {
        let txn = txn::begin(db).await?;
        let result = self.steps(&txn).await;
        txn::finish(txn, result, "sign in").await
    }

    async fn steps(&self, txn: &DatabaseTransaction) -> Result<User, StoreError> {
        let linked = identity::Entity::find_by_id((self.provider.to_owned(), self.subject.clone()))
            .one(txn)
            .await
            .map_err(|e| classify(e, "find identity"))?;
        if let Some(link) = linked {
            return self.refresh(txn, &link).await;
        }
        if self.verified
            && let Some(holder) = self.verified_holder(txn, None).await?
        {
            self.link(txn, &holder.id).await?;
            return from_row(holder);
        }
        let row = user::ActiveModel {
            id: Set(self.new_id.clone()),
            email: Set(self.email.clone()),
            email_verified: Set(self.verified),
            name: Set(self.name.clone()),
            tier: Set(Tier::Free.as_str().to_owned()),
            role: Set(DEFAULT_ROLE.to_owned()),
            created_at: Set(self.now),
            disabled_at: Set(None),
        };
        user::Entity::insert(row)
            .exec_without_returning(txn)
            .await
            .map_err(|e| classify(e, "insert user"))?;
        self.link(txn, &self.new_id).await?;
        SqlUserStore::load(txn, &self.new_id).await
    }

    /// Step 1: the linked user, with the profile's address and name.
    async fn refresh(
        &self,
        txn: &DatabaseTransaction,
        link: &identity::Model,
    ) -> Result<User, StoreError> {
        let stored = user::Entity::find_by_id(link.user_id.as_str())
            .one(txn)
            .await
            .map_err(|e| classify(e, "load linked user"))?
            .ok_or_else(|| anyhow!("identity {} is linked to no user", self.provider))?;
        let mut update = user::Entity::update_many();
        let mut changed = false;
        if let Some(name) = &self.name
            && stored.name.as_ref() != Some(name)
        {
            update = update.col_expr(Column::Name, Expr::value(name.clone()));
            changed = true;
        }
        if let Some(email) = &self.email {
            let verified = if stored.email.as_ref() == Some(email) {
                stored.email_verified || self.verified
            } else {
                self.verified && self.verified_holder(txn, Some(&stored.id)).await?.is_none()
            };
            if stored.email.as_ref() != Some(email) || stored.email_verified != verified {
                update = update
                    .col_expr(Column::Email, Expr::value(email.clone()))
                    .col_expr(Column::EmailVerified, Expr::value(verified));
                changed = true;
            }
            if link.email.as_ref() != Some(email) {
                identity::Entity::update_many()
                    .col_expr(identity::Column::Email, Expr::value(email.clone()))
                    .filter(identity::Column::Provider.eq(self.provider))
                    .filter(identity::Column::Subject.eq(self.subject.as_str()))
                    .exec(txn)
                    .await
                    .map_err(|e| classify(e, "refresh identity"))?;
            }
        }
        if !changed {
            return from_row(stored);
        }
        update
            .filter(Column::Id.eq(stored.id.as_str()))
            .exec(txn)
            .await
            .map_err(|e| classify(e, "refresh user"))?;
        SqlUserStore::load(txn, &stored.id).await
    }

    /// The user (other than `except`) holding the profile's address verified.
    async fn verified_holder(
        &self,
        txn: &DatabaseTransaction,
        except: Option<&str>,
    ) -> Result<Option<user::Model>, StoreError> {
        let Some(email) = &self.email else {
            return Ok(None);
        };
        let mut select = user::Entity::find()
            .filter(Column::Email.eq(email.as_str()))
            .filter(Column::EmailVerified.eq(true));
        if let Some(id) = except {
            select = select.filter(Column::Id.ne(id));
        }
        select
            .one(txn)
            .await
            .map_err(|e| classify(e, "find verified address"))
    }

    /// Links the identity to `user_id`.
    async fn link(&self, txn: &DatabaseTransaction, user_id: &str) -> Result<(), StoreError> {
        let row = identity::ActiveModel {
            provider: Set(self.provider.to_owned()),
            subject: Set(self.subject.clone()),
            user_id: Set(user_id.to_owned()),
            email: Set(self.email.clone()),
            created_at: Set(self.now),
        };
        identity::Entity::insert(row)
            .exec_without_returning(txn)
            .await
            .map_err(|e| match e.sql_err() {
                // The user found in step 2 was deleted meanwhile: running again makes a new one.
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::Conflict,
                _ => classify(e, "link identity"),
            })?;
        Ok(())
    }
}
