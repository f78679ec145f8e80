//! Opaque page cursors: the `(created_at, id)` position of the last row of a page, so the next
//! page can start after it even once that row is deleted.
//!
//! Wire form: `c1.` followed by the unpadded URL-safe base64 of `<created_at>.<id>`, where
//! `created_at` is microseconds since the Unix epoch in decimal. The `.` cannot occur in an id,
//! so a cursor is never mistaken for the older form of `after` (a plain thread or item id),
//! which keeps working: it is looked up and refused when its row is gone.
//!
//! Decoding treats the value as hostile: its length, alphabet, padding bits, number and id are
//! all checked before anything is allocated beyond the bounded input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::bounds::{BoundError, MAX_ID_BYTES, check_id};

/// Prefix of a version-1 cursor.
const PREFIX: &str = "c1.";
/// Longest decimal microsecond count accepted (sign included): 20 characters.
const MAX_NUMBER_CHARS: usize = 20;
/// Longest cursor accepted, in characters: the prefix plus the base64 of the longest payload.
pub const MAX_CURSOR_CHARS: usize =
    PREFIX.len() + (MAX_NUMBER_CHARS + 1 + MAX_ID_BYTES).div_ceil(3) * 4;
/// Microseconds of 9999-12-31T23:59:59.999999Z; positions lie within ±this.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// Where a page stops: the creation instant and id of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Creation instant, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Row id, the tie-breaker among equal instants.
    pub id: String,
}

/// What a client passed as `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// An opaque cursor: the page starts strictly after this position, whether or not the row
    /// still exists.
    Position(Position),
    /// The older form, a plain row id: its row must still exist.
    Id(String),
}

/// The opaque cursor of the row created at `created_at` (microseconds) with `id`.
pub fn encode(created_at: i64, id: &str) -> String {
    format!(
        "{PREFIX}{}",
        URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
    )
}

/// Reads `after` as either an opaque cursor or a plain id; `field` names it in the error.
///
/// # Errors
/// [`BoundError::InvalidCursor`] for anything that is neither a well-formed cursor nor a valid
/// id.
pub fn parse(field: &str, after: &str) -> Result<After, BoundError> {
    let invalid = || BoundError::InvalidCursor {
        field: field.to_string(),
    };
    let Some(body) = after.strip_prefix(PREFIX) else {
        return check_id(field, after)
            .map(|()| After::Id(after.to_string()))
            .map_err(|_| invalid());
    };
    if after.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    // Strict: a foreign character, padding, an impossible length or non-zero trailing bits
    // are refused, so each payload has exactly one spelling.
    let payload = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let payload = String::from_utf8(payload).map_err(|_| invalid())?;
    let (number, id) = payload.split_once('.').ok_or_else(invalid)?;
    let digits = number.strip_prefix('-').unwrap_or(number);
    if digits.is_empty()
        || number.len() > MAX_NUMBER_CHARS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let created_at: i64 = number.parse().map_err(|_| invalid())?;
    if !(-MAX_MICROS..=MAX_MICROS).contains(&created_at) {
        return Err(invalid());
    }
    check_id(field, id).map_err(|_| invalid())?;
    Ok(After::Position(Position {
        created_at,
        id: id.to_string(),
    }))
}

#[cfg(test)]
mod tests;
