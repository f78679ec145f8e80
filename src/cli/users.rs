//! `users list|set-tier|set-role|disable|enable`: operators manage the users of the service's
//! own sign-in from the command line, straight against the database (`DATABASE_URL`), after
//! applying pending migrations.
//!
//! Disabling a user also revokes every refresh token of the user, so its sessions end at the
//! next refresh at the latest.

mod output;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};

use super::EXIT_CONFIG;
use super::keys::TierArg;
use crate::adapters::sql::refresh_tokens::SqlRefreshTokenStore;
use crate::adapters::sql::users::SqlUserStore;
use crate::domain::identity::User;
use crate::domain::ports::{RefreshTokenStore, StoreError, UserStore};
use crate::domain::principal::Tier;

/// Users `users list` shows when `--limit` is not given.
const DEFAULT_LIMIT: u64 = 100;
/// Most users `users list` shows.
const MAX_LIMIT: u64 = 10_000;
/// Longest user id accepted on the command line.
const MAX_ID_CHARS: usize = 200;

/// What `users` does.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users, oldest first: id, e-mail, name, tier, role and dates.
    List {
        /// Show at most this many users.
        #[arg(long, default_value_t = DEFAULT_LIMIT,
              value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
        limit: u64,
        /// Print JSON (an array of users) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's quota tier.
    SetTier {
        /// User id (`usr_…`), as shown by `users list`.
        id: String,
        /// The new tier.
        #[arg(value_enum)]
        tier: TierArg,
    },
    /// Set a user's role.
    SetRole {
        /// User id (`usr_…`), as shown by `users list`.
        id: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Disable a user (no sign-in, no refresh) and revoke every refresh token of the user.
    /// Disabling twice keeps the first time.
    Disable {
        /// User id (`usr_…`), as shown by `users list`.
        id: String,
    },
    /// Enable a disabled user again (revoked sessions stay revoked).
    Enable {
        /// User id (`usr_…`), as shown by `users list`.
        id: String,
    },
}

/// Roles a user may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Learns (every new user).
    Student,
    /// Teaches.
    Teacher,
    /// Operates the service; also gets the admin tier.
    Admin,
}

impl RoleArg {
    /// The role as stored (one of [`crate::domain::identity::ROLES`]).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleArg::Student => "student",
            RoleArg::Teacher => "teacher",
            RoleArg::Admin => "admin",
        }
    }
}

/// Why a `users` command failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The arguments are unusable (exit status 2).
    #[error("{0}")]
    Invalid(String),
    /// No user has this id.
    #[error("no user has id {0:?}")]
    UnknownUser(String),
    /// The database failed.
    #[error("user store failed: {0:#}")]
    Store(#[from] StoreError),
}

impl UsersError {
    fn exit_code(&self) -> ExitCode {
        match self {
            UsersError::Invalid(_) => ExitCode::from(EXIT_CONFIG),
            _ => ExitCode::FAILURE,
        }
    }
}

/// A validated `users` command, ready to run against the stores.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    List { limit: u64, json: bool },
    SetTier { id: String, tier: Tier },
    SetRole { id: String, role: &'static str },
    Disable { id: String },
    Enable { id: String },
}

impl Action {
    /// Checks the arguments before any configuration or database is touched.
    fn parse(cmd: UsersCommand) -> Result<Self, UsersError> {
        Ok(match cmd {
            UsersCommand::List { limit, json } => Action::List { limit, json },
            UsersCommand::SetTier { id, tier } => Action::SetTier {
                id: parse_id(&id)?,
                tier: tier.into(),
            },
            UsersCommand::SetRole { id, role } => Action::SetRole {
                id: parse_id(&id)?,
                role: role.as_str(),
            },
            UsersCommand::Disable { id } => Action::Disable { id: parse_id(&id)? },
            UsersCommand::Enable { id } => Action::Enable { id: parse_id(&id)? },
        })
    }
}

/// A trimmed, printable id of reasonable length.
fn parse_id(raw: &str) -> Result<String, UsersError> {
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(UsersError::Invalid(format!(
            "a user id is 1 to {MAX_ID_CHARS} printable characters"
        )));
    }
    Ok(id.to_owned())
}

/// Runs `users …`: validates the arguments, loads the configuration, migrates, acts, and prints
/// the result on standard output (logs go to standard error).
pub async fn run(cmd: UsersCommand) -> ExitCode {
    let action = match Action::parse(cmd) {
        Ok(action) => action,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    let db = match super::store_database().await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let users = SqlUserStore::new(db.clone());
    let tokens = SqlRefreshTokenStore::new(db.clone());
    let result = execute(&users, &tokens, action, Utc::now()).await;
    db.close().await;
    super::outcome(result, UsersError::exit_code)
}

/// Runs `action` at `now` and returns what to print.
async fn execute(
    users: &dyn UserStore,
    tokens: &dyn RefreshTokenStore,
    action: Action,
    now: DateTime<Utc>,
) -> Result<String, UsersError> {
    match action {
        Action::List { limit, json } => {
            let listed = users.list(limit).await?;
            if json {
                output::json(&listed)
            } else {
                Ok(output::table(&listed))
            }
        }
        Action::SetTier { id, tier } => {
            let user = known(&id, users.set_tier(&id, tier).await)?;
            tracing::info!(user_id = %user.id, tier = tier.as_str(), "user tier set");
            Ok(format!(
                "User {} now has tier {}.\n",
                user.id,
                user.tier.as_str()
            ))
        }
        Action::SetRole { id, role } => {
            let user = known(&id, users.set_role(&id, role).await)?;
            tracing::info!(user_id = %user.id, role, "user role set");
            Ok(format!("User {} now has role {}.\n", user.id, user.role))
        }
        Action::Disable { id } => {
            let user = known(&id, users.set_disabled(&id, Some(now)).await)?;
            let revoked = tokens.revoke_user(&user.id, now).await?;
            tracing::info!(user_id = %user.id, revoked, "user disabled");
            Ok(output::disabled(&user, now, revoked))
        }
        Action::Enable { id } => {
            let user = known(&id, users.set_disabled(&id, None).await)?;
            tracing::info!(user_id = %user.id, "user enabled");
            Ok(format!("Enabled user {}.\n", user.id))
        }
    }
}

/// `result`, with NotFound told as an unknown user.
fn known(id: &str, result: Result<User, StoreError>) -> Result<User, UsersError> {
    match result {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => Err(UsersError::UnknownUser(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}
