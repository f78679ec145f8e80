//! Bounds on every value a client can make the service store or echo: ids, free text, and free
//! JSON. One set of checks, so each surface (`/chatkit`, `/v1`) refuses the same input the same
//! way, before anything is stored.

use std::fmt;

/// Longest thread or item id accepted, in bytes. Generated ids are 36 (`thr_` + 32 hex
/// digits); the columns hold 64.
pub const MAX_ID_BYTES: usize = 64;
/// Longest id of an `input_tag` (a client entity id: a slug, a path or a URL), in characters.
pub const MAX_TAG_ID_CHARS: usize = 256;
/// Longest `group` label of an `input_tag`, in characters.
pub const MAX_TAG_GROUP_CHARS: usize = 100;
/// Largest `data` of an `input_tag`, serialised as JSON, in bytes.
pub const MAX_TAG_DATA_BYTES: usize = 4 * 1024;
/// Largest `metadata` of a ChatKit request, serialised as JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 4 * 1024;
/// Longest `inference_options.model` and `tool_choice.id`, in characters.
pub const MAX_OPTION_CHARS: usize = 64;
/// Largest user message as stored (every part, tag data, quoted text and options, serialised as
/// JSON), in bytes. 8,000 characters of text alone can take 32 KB of UTF-8, and escapes more;
/// this leaves room for them and the quoted text while refusing anything like a 900 KB tag.
pub const MAX_STORED_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a client value was refused; `field` names it as the client sent it (`params.thread_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundError {
    /// An id that is empty, longer than [`MAX_ID_BYTES`] or has a character outside
    /// `[A-Za-z0-9_-]`.
    InvalidId {
        /// The field.
        field: String,
    },
    /// A page cursor (`after`) that is neither a cursor the server issued nor a valid id.
    InvalidCursor {
        /// The field.
        field: String,
    },
    /// A text longer than its limit in characters.
    TooLong {
        /// The field.
        field: String,
        /// The limit in characters.
        max_chars: usize,
    },
    /// A one-line label (tag id, group, model name, display name, title) with a control
    /// character.
    ControlCharacter {
        /// The field.
        field: String,
    },
    /// A text holding U+0000, which no store keeps (PostgreSQL refuses it in text and JSON).
    NulCharacter {
        /// The field.
        field: String,
    },
    /// A JSON value whose serialised form exceeds its limit in bytes.
    TooLarge {
        /// The field.
        field: String,
        /// The limit in bytes.
        max_bytes: usize,
    },
    /// The whole message, as it would be stored, exceeds [`MAX_STORED_MESSAGE_BYTES`].
    MessageTooLarge {
        /// The limit in bytes.
        max_bytes: usize,
    },
}

impl BoundError {
    /// Stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            BoundError::InvalidId { .. } | BoundError::InvalidCursor { .. } => "invalid_id",
            BoundError::TooLong { .. } | BoundError::TooLarge { .. } => "field_too_long",
            BoundError::ControlCharacter { .. } | BoundError::NulCharacter { .. } => "invalid_text",
            BoundError::MessageTooLarge { .. } => "message_too_large",
        }
    }
}

impl fmt::Display for BoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundError::InvalidId { field } => write!(
                f,
                "{field} must be 1 to {MAX_ID_BYTES} characters of A-Z, a-z, 0-9, _ and -"
            ),
            BoundError::InvalidCursor { field } => write!(
                f,
                "{field} must be a cursor returned by a previous page, or an id of 1 to \
                 {MAX_ID_BYTES} characters of A-Z, a-z, 0-9, _ and -"
            ),
            BoundError::TooLong { field, max_chars } => {
                write!(f, "{field} has at most {max_chars} characters")
            }
            BoundError::ControlCharacter { field } => {
                write!(f, "{field} must not contain control characters")
            }
            BoundError::NulCharacter { field } => {
                write!(f, "{field} must not contain the NUL character (U+0000)")
            }
            BoundError::TooLarge { field, max_bytes } => {
                write!(f, "{field} has at most {max_bytes} bytes of JSON")
            }
            BoundError::MessageTooLarge { max_bytes } => {
                write!(
                    f,
                    "a message is stored in at most {max_bytes} bytes of JSON"
                )
            }
        }
    }
}

impl std::error::Error for BoundError {}

/// Unicode `White_Space` (what `str::trim` removes) as the inside of a regex character class,
/// for the schema patterns of trimmed values; a macro so `concat!` can build patterns with it.
macro_rules! white_space_chars {
    () => {
        "\\t\\n\\x0B\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    };
}
pub(crate) use white_space_chars;

/// An id's characters in a schema ([`check_id`]; the length goes beside it).
pub const ID_PATTERN: &str = "^[A-Za-z0-9_-]+$";

/// Checks an id: 1 to [`MAX_ID_BYTES`] bytes of `[A-Za-z0-9_-]`, the alphabet of every id the
/// service generates (and of the protocol's examples), so it is safe in logs, keys and URLs.
///
/// # Errors
/// [`BoundError::InvalidId`].
pub fn check_id(field: &str, id: &str) -> Result<(), BoundError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BoundError::InvalidId {
            field: field.to_string(),
        })
    }
}

/// Checks a free text of at most `max_chars` characters (line breaks and tabs allowed, NUL
/// not: no store keeps it).
///
/// # Errors
/// [`BoundError::TooLong`], [`BoundError::NulCharacter`].
pub fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), BoundError> {
    // `nth` stops counting at the limit: a huge value costs no more than a short one.
    if text.chars().nth(max_chars).is_some() {
        return Err(BoundError::TooLong {
            field: field.to_string(),
            max_chars,
        });
    }
    if text.contains('\0') {
        return Err(BoundError::NulCharacter {
            field: field.to_string(),
        });
    }
    Ok(())
}

/// Checks a one-line label of at most `max_chars` characters without control characters.
///
/// # Errors
/// [`BoundError::TooLong`].
pub fn check_label(field: &str, text: &str, max_chars: usize) -> Result<(), BoundError> {
    check_text(field, text, max_chars)?;
    if text.chars().any(char::is_control) {
        return Err(BoundError::ControlCharacter {
            field: field.to_string(),
        });
    }
    Ok(())
}

/// The size of `value` serialised as compact JSON, or `None` once it passes `max_bytes`
/// (serialisation stops there, so a huge value costs no more than the limit).
pub fn json_size<T: serde::Serialize + ?Sized>(value: &T, max_bytes: usize) -> Option<usize> {
    let mut counter = Counter { n: 0, max_bytes };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.n)
}

/// Checks that `value` serialises to at most `max_bytes` bytes of JSON, with no NUL character
/// in any string or key.
///
/// # Errors
/// [`BoundError::TooLarge`], [`BoundError::NulCharacter`].
pub fn check_json<T: serde::Serialize + ?Sized>(
    field: &str,
    value: &T,
    max_bytes: usize,
) -> Result<(), BoundError> {
    if json_size(value, max_bytes).is_none() {
        return Err(BoundError::TooLarge {
            field: field.to_string(),
            max_bytes,
        });
    }
    // Small by now (the size is bounded), so walking a copy is cheap.
    let holds_nul = serde_json::to_value(value).is_ok_and(|v| has_nul(&v));
    if holds_nul {
        return Err(BoundError::NulCharacter {
            field: field.to_string(),
        });
    }
    Ok(())
}

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// A writer that only counts, and fails once past its limit.
struct Counter {
    n: usize,
    max_bytes: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len();
        if self.n > self.max_bytes {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
