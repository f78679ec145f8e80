//! What `users` commands print: a table (or JSON) of users, a disabling.

use chrono::{DateTime, Utc};

use super::UsersError;
use crate::cli::keys::output::{aligned, instant, optional_instant, printable};
use crate::domain::identity::User;

/// Table headings, in column order.
const HEADINGS: [&str; 8] = [
    "ID", "EMAIL", "VERIFIED", "NAME", "TIER", "ROLE", "CREATED", "DISABLED",
];

/// Every user as an aligned table, one row per user.
pub(super) fn table(users: &[User]) -> String {
    if users.is_empty() {
        return "No users.\n".to_owned();
    }
    let rows: Vec<[String; 8]> = users
        .iter()
        .map(|u| {
            [
                printable(&u.id),
                u.email.as_deref().map_or_else(|| "-".to_owned(), printable),
                if u.email_verified { "yes" } else { "no" }.to_owned(),
                u.name.as_deref().map_or_else(|| "-".to_owned(), printable),
                u.tier.as_str().to_owned(),
                printable(&u.role),
                instant(u.created_at),
                optional_instant(u.disabled_at),
            ]
        })
        .collect();
    aligned(HEADINGS, &rows)
}

/// Every user as a JSON array.
pub(super) fn json(users: &[User]) -> Result<String, UsersError> {
    let text = serde_json::to_string_pretty(users)
        .map_err(|e| UsersError::Store(anyhow::Error::new(e).into()))?;
    Ok(format!("{text}\n"))
}

/// The outcome of `users disable` at `now`.
pub(super) fn disabled(user: &User, now: DateTime<Utc>, revoked: u64) -> String {
    let at = optional_instant(user.disabled_at);
    let sessions = if revoked == 1 { "token" } else { "tokens" };
    if user.disabled_at == Some(now) {
        format!(
            "Disabled user {} at {at}; revoked {revoked} refresh {sessions}.\n",
            user.id
        )
    } else {
        format!(
            "User {} was already disabled at {at}; revoked {revoked} refresh {sessions}.\n",
            user.id
        )
    }
}
