//! `keys create|list|revoke`: operators manage API keys from the command line, straight against
//! the database (`DATABASE_URL`), after applying pending migrations.
//!
//! A created key is printed once; only the SHA-256 of its secret is stored, and no command
//! prints a secret or a hash afterwards.

pub(super) mod output;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use uuid::Uuid;

use super::EXIT_CONFIG;
use crate::adapters::sql::api_keys::SqlApiKeyStore;
use crate::domain::api_key::{ApiKeyRecord, KNOWN_SCOPES, format_key, hash_secret, parse_scopes};
use crate::domain::ports::{ApiKeyStore, StoreError};
use crate::domain::principal::Tier;

/// Length of a generated key id (about 62 random bits).
const ID_LEN: usize = 12;
/// Symbols of a key id.
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a generated secret (about 238 random bits).
const SECRET_LEN: usize = 40;
/// Symbols of a secret.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Ids drawn before giving up when each one is taken (one collision is already unlikely).
const ID_ATTEMPTS: usize = 3;
/// Longest key name accepted.
const MAX_NAME_CHARS: usize = 200;

/// What `keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once; only a hash of its secret is stored.
    Create {
        /// Who or what uses the key (shown by `keys list` and in logs).
        #[arg(long)]
        name: String,
        /// Comma-separated scopes granted to the key.
        #[arg(long, long_help = scopes_help())]
        scopes: String,
        /// Quota tier of requests made with the key.
        #[arg(long, value_enum, default_value_t = TierArg::Free)]
        tier: TierArg,
    },
    /// List every key, oldest first: id, name, scopes, tier and dates (never secrets).
    List,
    /// Revoke a key: it authenticates nothing afterwards. Revoking twice keeps the first time.
    Revoke {
        /// Key id: the part between `sk_` and the second `_`, as shown by `keys list`.
        id: String,
    },
}

/// Quota tiers a key may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// Default quotas.
    Free,
    /// Partner services.
    Premium,
    /// Operators; unlimited by default.
    Admin,
}

impl From<TierArg> for Tier {
    fn from(tier: TierArg) -> Self {
        match tier {
            TierArg::Free => Tier::Free,
            TierArg::Premium => Tier::Premium,
            TierArg::Admin => Tier::Admin,
        }
    }
}

fn scopes_help() -> String {
    let lines: Vec<String> = KNOWN_SCOPES
        .iter()
        .map(|(scope, meaning)| format!("  {scope}: {meaning}"))
        .collect();
    format!(
        "Comma-separated scopes granted to the key, e.g. admin,lessons:purge\n\nKnown scopes:\n{}",
        lines.join("\n")
    )
}

/// Why a `keys` command failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The arguments are unusable (exit status 2).
    #[error("{0}")]
    Invalid(String),
    /// No key has this id.
    #[error("no API key has id {0:?}")]
    UnknownKey(String),
    /// Every id drawn was taken.
    #[error("could not draw an unused key id in {ID_ATTEMPTS} attempts")]
    NoFreeId,
    /// The database failed.
    #[error("API key store failed: {0:#}")]
    Store(#[from] StoreError),
}

impl KeysError {
    fn exit_code(&self) -> ExitCode {
        match self {
            KeysError::Invalid(_) => ExitCode::from(EXIT_CONFIG),
            _ => ExitCode::FAILURE,
        }
    }
}

/// A validated `keys` command, ready to run against a store.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Create {
        name: String,
        scopes: Vec<String>,
        tier: Tier,
    },
    List,
    Revoke {
        id: String,
    },
}

impl Action {
    /// Checks the arguments before any configuration or database is touched.
    fn parse(cmd: KeysCommand) -> Result<Self, KeysError> {
        Ok(match cmd {
            KeysCommand::Create { name, scopes, tier } => Action::Create {
                name: parse_name(&name)?,
                scopes: parse_scopes(&scopes).map_err(KeysError::Invalid)?,
                tier: tier.into(),
            },
            KeysCommand::List => Action::List,
            KeysCommand::Revoke { id } => Action::Revoke { id },
        })
    }
}

/// A trimmed, printable name of reasonable length.
fn parse_name(raw: &str) -> Result<String, KeysError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(KeysError::Invalid("the key name must not be empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(KeysError::Invalid(format!(
            "the key name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(KeysError::Invalid(
            "the key name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Runs `keys …`: validates the arguments, loads the configuration, migrates, acts, and prints
/// the result on standard output (logs go to standard error).
pub async fn run(cmd: KeysCommand) -> ExitCode {
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
    let store = SqlApiKeyStore::new(db.clone());
    let result = execute(&store, action, Utc::now()).await;
    db.close().await;
    super::outcome(result, KeysError::exit_code)
}

/// Runs `action` at `now` and returns what to print.
async fn execute(
    store: &dyn ApiKeyStore,
    action: Action,
    now: DateTime<Utc>,
) -> Result<String, KeysError> {
    match action {
        Action::Create { name, scopes, tier } => {
            let (record, key) = create(store, name, scopes, tier, now).await?;
            Ok(output::created(&record, &key))
        }
        Action::List => Ok(output::table(&store.list().await?)),
        Action::Revoke { id } => {
            let (record, already) = revoke(store, &id, now).await?;
            Ok(output::revoked(&record, already))
        }
    }
}

/// Stores a new key and returns its record and the full key, which exists nowhere else.
async fn create(
    store: &dyn ApiKeyStore,
    name: String,
    scopes: Vec<String>,
    tier: Tier,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, String), KeysError> {
    for _ in 0..ID_ATTEMPTS {
        let id = random_string(ID_ALPHABET, ID_LEN);
        let secret = random_string(SECRET_ALPHABET, SECRET_LEN);
        let record = ApiKeyRecord {
            id,
            name: name.clone(),
            scopes: scopes.clone(),
            tier,
            secret_hash: hash_secret(&secret),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        match store.insert(&record).await {
            Ok(()) => {
                tracing::info!(
                    key_id = %record.id,
                    name = %record.name,
                    scopes = %record.scopes.join(","),
                    tier = record.tier.as_str(),
                    "api key created"
                );
                let key = format_key(&record.id, &secret);
                return Ok((record, key));
            }
            Err(StoreError::Conflict) => {
                tracing::warn!(key_id = %record.id, "drawn api key id is taken; drawing another");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(KeysError::NoFreeId)
}

/// Revokes `id` at `now`; returns the stored record and whether it was revoked before.
async fn revoke(
    store: &dyn ApiKeyStore,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, bool), KeysError> {
    let unknown = || KeysError::UnknownKey(id.to_owned());
    let before = store.find(id).await?.ok_or_else(unknown)?;
    if before.revoked_at.is_some() {
        return Ok((before, true));
    }
    match store.revoke(id, now).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    }
    // Read back: a concurrent revocation may have come first, and its time is the one kept.
    let after = store.find(id).await?.ok_or_else(unknown)?;
    tracing::info!(key_id = %id, name = %after.name, "api key revoked");
    Ok((after, false))
}

/// `len` symbols of `alphabet`, drawn uniformly from the operating system's random source.
fn random_string(alphabet: &[u8], len: usize) -> String {
    // Bytes at or above the largest multiple of the alphabet size are skipped: keeping them
    // would make the first symbols more likely than the others.
    let limit = 256 - 256 % alphabet.len();
    random_bytes()
        .filter(|b| usize::from(*b) < limit)
        .take(len)
        .filter_map(|b| alphabet.get(usize::from(b) % alphabet.len()))
        .map(|b| char::from(*b))
        .collect()
}

/// Random bytes from v4 UUIDs (the OS generator behind `Uuid::new_v4`). Bytes 6 and 8 carry
/// the version and variant bits, so only the other fourteen of each UUID are used.
fn random_bytes() -> impl Iterator<Item = u8> {
    std::iter::repeat_with(|| Uuid::new_v4().into_bytes()).flat_map(|bytes| {
        bytes
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != 6 && *i != 8)
            .map(|(_, b)| b)
    })
}
