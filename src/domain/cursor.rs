//! Opaque page cursors: the `(created_at, id)` position of the last row of a page, so the next
//! page can start after it even once that row is deleted.
//!
//! Wire form (`c2.`): 9 characters of the URL-safe base64 alphabet holding `created_at`
//! (microseconds since the Unix epoch, 54 bits: until the year 2540), then the row id with each
//! character shifted along that same alphabet (an id is a string over it). Every string that
//! matches [`CURSOR_PATTERN`] therefore reads back as a position: the spec's pattern says
//! exactly which cursors the server accepts. The `.` cannot occur in an id, so a cursor is never
//! mistaken for the older form of `after` (a plain thread or item id), which keeps working: it is
//! looked up and refused when its row is gone. The first wire form (`c1.` + the base64 of
//! `<created_at>.<id>`) is still read, and still written for an instant outside `c2`'s range.
//!
//! Decoding treats the value as hostile: its length, alphabet, padding bits, number and id are
//! all checked before anything is allocated beyond the bounded input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::bounds::{BoundError, MAX_ID_BYTES, check_id};

/// Prefix of a version-1 cursor.
const PREFIX: &str = "c1.";
/// Prefix of a version-2 cursor.
const PREFIX_2: &str = "c2.";
/// The URL-safe base64 alphabet, which is also exactly the characters of an id.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Characters of a version-2 cursor's instant: 6 bits each.
const TIME_CHARS: usize = 9;
/// Version-2 instants: `0..2^54` microseconds.
const MAX_TIME_2: i64 = (1 << (6 * TIME_CHARS)) - 1;
/// What a version-2 cursor looks like; every match is a position the server reads.
pub const CURSOR_PATTERN: &str = "^c2\\.[A-Za-z0-9_-]{10,73}$";
/// Longest version-2 cursor: prefix, instant and the longest id.
pub const MAX_CURSOR_2_CHARS: usize = PREFIX_2.len() + TIME_CHARS + MAX_ID_BYTES;
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

fn digit(byte: u8) -> Option<usize> {
    ALPHABET.iter().position(|&a| a == byte)
}

/// How far the id character at `i` is shifted along [`ALPHABET`].
fn shift(i: usize) -> usize {
    (17 + 5 * i) % ALPHABET.len()
}

/// The opaque cursor of the row created at `created_at` (microseconds) with `id`.
pub fn encode(created_at: i64, id: &str) -> String {
    let fits = (0..=MAX_TIME_2).contains(&created_at)
        && (1..=MAX_ID_BYTES).contains(&id.len())
        && id.bytes().all(|b| digit(b).is_some());
    if !fits {
        return format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
        );
    }
    let mut out = String::with_capacity(PREFIX_2.len() + TIME_CHARS + id.len());
    out.push_str(PREFIX_2);
    for k in (0..TIME_CHARS).rev() {
        out.push(char::from(
            ALPHABET[((created_at >> (6 * k)) & 63) as usize],
        ));
    }
    for (i, byte) in id.bytes().enumerate() {
        let d = digit(byte).unwrap_or_default();
        out.push(char::from(ALPHABET[(d + shift(i)) % ALPHABET.len()]));
    }
    out
}

/// Reads the body of a version-2 cursor (after its prefix).
fn parse_2(body: &str) -> Option<Position> {
    let bytes = body.as_bytes();
    if !(TIME_CHARS + 1..=TIME_CHARS + MAX_ID_BYTES).contains(&bytes.len()) {
        return None;
    }
    let mut created_at = 0_i64;
    for &b in &bytes[..TIME_CHARS] {
        created_at = (created_at << 6) | i64::try_from(digit(b)?).ok()?;
    }
    let mut id = String::with_capacity(bytes.len() - TIME_CHARS);
    for (i, &b) in bytes[TIME_CHARS..].iter().enumerate() {
        let n = ALPHABET.len();
        id.push(char::from(ALPHABET[(digit(b)? + n - shift(i)) % n]));
    }
    Some(Position { created_at, id })
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
    if let Some(body) = after.strip_prefix(PREFIX_2) {
        return parse_2(body).map(After::Position).ok_or_else(invalid);
    }
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
