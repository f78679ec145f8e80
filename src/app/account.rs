//! The student's own data: everything stored about the caller, as one export, and its erasure
//! (threads with items, study state and feedback; the own account and all its sessions). Works
//! for every kind of caller. API keys are operator credentials shared by a service, so they are
//! left to `study-mode-api keys revoke`; SSO tokens are the SSO's.

use std::sync::Arc;

use super::auth::Caller;
use super::identity::IdentityService;
use crate::domain::identity::{Erased, User};
use crate::domain::ports::{StoreError, ThreadExport, UserDataStore};

/// Most threads one export carries (`MAX_THREADS_PER_USER` is the real bound; this keeps one
/// answer finite whatever it is set to).
pub const MAX_EXPORT_THREADS: u64 = 10_000;

/// What an export holds.
#[derive(Debug, Clone)]
pub struct Export {
    /// The own account, when the caller has one.
    pub account: Option<User>,
    /// Threads with everything stored about them.
    pub threads: Vec<ThreadExport>,
}

/// Export and erasure of a caller's data.
pub struct AccountService {
    data: Arc<dyn UserDataStore>,
    identity: Option<Arc<IdentityService>>,
}

impl AccountService {
    /// The use cases over the stores (`identity` when the service has its own sign-in).
    pub fn new(data: Arc<dyn UserDataStore>, identity: Option<Arc<IdentityService>>) -> Self {
        Self { data, identity }
    }

    /// The own sign-in, when configured.
    pub fn identity(&self) -> Option<&Arc<IdentityService>> {
        self.identity.as_ref()
    }

    /// Everything stored about `caller`.
    ///
    /// # Errors
    /// The store's.
    pub async fn export(&self, caller: &Caller) -> Result<Export, StoreError> {
        let user_id = &caller.principal.user_id;
        let account = match &self.identity {
            Some(identity) => identity.user(user_id).await?,
            None => None,
        };
        let threads = self.data.export(user_id, MAX_EXPORT_THREADS).await?;
        Ok(Export { account, threads })
    }

    /// Deletes everything stored about `caller` and, for an own account, the account with every
    /// session (its access tokens are refused within 30 s). SSO tokens and API keys stay valid
    /// where they are managed, but nothing of the caller is left here.
    ///
    /// # Errors
    /// The store's; what was deleted before the failure stays deleted, and a retry finishes it.
    pub async fn erase(&self, caller: &Caller) -> Result<Erased, StoreError> {
        let user_id = &caller.principal.user_id;
        let threads = self.data.erase(user_id).await?;
        let mut erased = Erased {
            threads: threads.threads,
            items: threads.items,
            feedback: threads.feedback,
            ..Erased::default()
        };
        if let Some(identity) = &self.identity {
            let (revoked, deleted) = identity.erase(user_id).await?;
            erased.refresh_tokens = revoked;
            erased.account = deleted;
        }
        tracing::info!(target: "security", event = "erase", user_id = %user_id,
            threads = erased.threads, refresh_tokens = erased.refresh_tokens,
            account = erased.account, "caller's data deleted");
        Ok(erased)
    }
}
