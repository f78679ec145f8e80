//! API keys for service-to-service calls and operators: `sk_<id>_<secret>`.
//!
//! The id is public (it names the key in lists, logs and `keys revoke`); the secret is 256
//! random bits shown once at creation. Only a SHA-256 of the secret is stored: the secret is
//! random and long, so a slow password hash would add latency without adding safety.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::principal::{Principal, Tier};

/// Every API key starts with this.
pub const KEY_PREFIX: &str = "sk_";

/// Longest key accepted (prefix, id, separator, secret).
pub const MAX_KEY_LEN: usize = 200;

/// Scopes a key may carry.
pub const KNOWN_SCOPES: &[(&str, &str)] = &[
    ("admin", "every operator endpoint under /admin"),
    ("lessons:purge", "POST /admin/invalidate-cache only"),
];

/// The scope that opens every operator endpoint.
pub const ADMIN_SCOPE: &str = "admin";

/// A stored key: everything but the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (`[a-z0-9]{1,32}`), the part between `sk_` and the second `_`.
    pub id: String,
    /// Operator-chosen label (who uses the key).
    pub name: String,
    /// Scopes granted, each one of [`KNOWN_SCOPES`].
    pub scopes: Vec<String>,
    /// Quota tier of requests made with the key.
    pub tier: Tier,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// Last time the key authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// Whether the key grants `scope` (`admin` grants everything).
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope || s == ADMIN_SCOPE)
    }

    /// Whether `secret` is this key's secret (constant time in the secret).
    pub fn secret_matches(&self, secret: &str) -> bool {
        let given = hash_secret(secret);
        given.as_bytes().ct_eq(self.secret_hash.as_bytes()).into()
    }

    /// The caller a request made with this key acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: format!("apikey:{}", self.id),
            organization_id: None,
            email: None,
            name: Some(self.name.clone()),
            role: self
                .scopes
                .iter()
                .any(|s| s == ADMIN_SCOPE)
                .then(|| ADMIN_SCOPE.to_string()),
            tier: self.tier,
        }
    }
}

/// A presented key split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    /// The public id.
    pub id: &'a str,
    /// The secret.
    pub secret: &'a str,
}

/// Splits `sk_<id>_<secret>`; `None` when `raw` is not shaped like a key.
pub fn parse_key(raw: &str) -> Option<PresentedKey<'_>> {
    if raw.len() > MAX_KEY_LEN {
        return None;
    }
    let rest = raw.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = valid_id(id);
    let secret_ok =
        (32..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (id_ok && secret_ok).then_some(PresentedKey { id, secret })
}

/// Whether `id` is a well-formed key id.
pub fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The full key for `id` and `secret`.
pub fn format_key(id: &str, secret: &str) -> String {
    format!("{KEY_PREFIX}{id}_{secret}")
}

/// Lowercase hex SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Validates a comma-separated scope list (`admin,lessons:purge`).
///
/// # Errors
/// Names the first unknown scope and lists the known ones; an empty list is an error.
pub fn parse_scopes(raw: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !KNOWN_SCOPES.iter().any(|(known, _)| *known == scope) {
            let known: Vec<&str> = KNOWN_SCOPES.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "unknown scope {scope:?}; known scopes: {}",
                known.join(", ")
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    if scopes.is_empty() {
        return Err("at least one scope is needed".to_string());
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789";

    fn record(scopes: &[&str]) -> ApiKeyRecord {
        ApiKeyRecord {
            id: "k1".into(),
            name: "ci".into(),
            scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
            tier: Tier::Premium,
            secret_hash: hash_secret(SECRET),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn keys_round_trip_through_format_and_parse() {
        let key = format_key("abc123", SECRET);
        assert_eq!(
            parse_key(&key),
            Some(PresentedKey {
                id: "abc123",
                secret: SECRET
            })
        );
    }

    #[test]
    fn malformed_keys_are_not_keys() {
        for raw in [
            "",
            "sk_",
            "sk_abc",
            "sk_abc_short",
            "pk_abc_abcdefghijklmnopqrstuvwxyzABCDEF0123",
            "sk_ABC_abcdefghijklmnopqrstuvwxyzABCDEF0123",
            "sk__abcdefghijklmnopqrstuvwxyzABCDEF0123",
            "sk_abc_abcdefghijklmnopqrstuvwxyzABCDEF012-",
            "eyJhbGciOiJSUzI1NiJ9.e30.sig",
        ] {
            assert_eq!(parse_key(raw), None, "{raw:?}");
        }
        assert_eq!(parse_key(&format!("sk_a_{}", "x".repeat(300))), None);
    }

    #[test]
    fn secrets_match_only_their_hash() {
        let key = record(&["admin"]);
        assert!(key.secret_matches(SECRET));
        assert!(!key.secret_matches("abcdefghijklmnopqrstuvwxyzABCDEF0123456788"));
    }

    #[test]
    fn admin_grants_every_scope_and_others_only_themselves() {
        assert!(record(&["admin"]).allows("lessons:purge"));
        assert!(record(&["lessons:purge"]).allows("lessons:purge"));
        assert!(!record(&["lessons:purge"]).allows("admin"));
    }

    #[test]
    fn the_principal_is_named_after_the_key() {
        let principal = record(&["admin"]).principal();
        assert_eq!(principal.user_id, "apikey:k1");
        assert_eq!(principal.tier, Tier::Premium);
        assert_eq!(principal.role.as_deref(), Some("admin"));
        assert_eq!(record(&["lessons:purge"]).principal().role, None);
    }

    #[test]
    fn scopes_are_validated_and_deduplicated() {
        assert_eq!(
            parse_scopes("admin, lessons:purge,admin"),
            Ok(vec!["admin".to_string(), "lessons:purge".to_string()])
        );
        assert!(parse_scopes("root").unwrap_err().contains("\"root\""));
        assert!(parse_scopes(" , ").is_err());
    }
}
