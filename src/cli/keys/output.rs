//! What `keys` commands print: the new key once, a table of keys, a revocation. Never a secret
//! or a hash, except the new key right after its creation.

use chrono::{DateTime, Utc};

use crate::domain::api_key::ApiKeyRecord;

/// Table headings, in column order.
const HEADINGS: [&str; 7] = [
    "ID",
    "NAME",
    "SCOPES",
    "TIER",
    "CREATED",
    "LAST USED",
    "REVOKED",
];

/// The announcement of a new key, with the key on a line of its own.
pub(super) fn created(record: &ApiKeyRecord, key: &str) -> String {
    format!(
        "Created API key {id} for {name:?} (scopes: {scopes}; tier: {tier}).\n\
         \n\
         {key}\n\
         \n\
         This key cannot be shown again: only a hash of it is stored. Copy it now.\n\
         Send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.\n",
        id = record.id,
        name = record.name,
        scopes = record.scopes.join(","),
        tier = record.tier.as_str(),
    )
}

/// The outcome of `keys revoke`.
pub(super) fn revoked(record: &ApiKeyRecord, already: bool) -> String {
    let at = optional_instant(record.revoked_at);
    if already {
        format!("API key {} was already revoked at {at}.\n", record.id)
    } else {
        format!("Revoked API key {} at {at}.\n", record.id)
    }
}

/// Every key as an aligned table, one row per key.
pub(super) fn table(keys: &[ApiKeyRecord]) -> String {
    if keys.is_empty() {
        return "No API keys.\n".to_owned();
    }
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                printable(&k.id),
                printable(&k.name),
                printable(&k.scopes.join(",")),
                k.tier.as_str().to_owned(),
                instant(k.created_at),
                optional_instant(k.last_used_at),
                optional_instant(k.revoked_at),
            ]
        })
        .collect();
    aligned(HEADINGS, &rows)
}

/// `headings` and `rows` as a table, each column as wide as its widest cell.
pub(in crate::cli) fn aligned<const N: usize>(headings: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headings.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = line(&headings.map(str::to_owned), &widths);
    for row in rows {
        text.push_str(&line(row, &widths));
    }
    text
}

fn line<const N: usize>(cells: &[String; N], widths: &[usize; N]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell:<width$}"))
        .collect();
    format!("{}\n", padded.join("  ").trim_end())
}

pub(in crate::cli) fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(in crate::cli) fn optional_instant(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), instant)
}

/// Stored text with control characters (which could forge table lines or move the cursor)
/// replaced by `?`.
pub(in crate::cli) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
