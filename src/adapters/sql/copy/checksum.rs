//! Values as `db copy` carries them, and the order-independent checksum of a table.
//!
//! A row's canonical form spells every value the same way whichever engine it was read from
//! (JSON by meaning: keys sorted, numbers normalised, whitespace dropped; booleans as 0/1;
//! blobs in hex), each value tagged and length-prefixed so that no two different rows share a
//! spelling. The table's checksum is the wrapping sum of the rows' SHA-256 (first 128 bits):
//! the same set of rows gives the same sum in whatever order they were read.

use sha2::{Digest, Sha256};

/// One value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (or a boolean column's value as read).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Text, or JSON as the source spelled it.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Running checksum of a table: row count and the sum of the rows' hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    /// Rows seen.
    pub rows: u64,
    /// Wrapping sum of the rows' hashes.
    pub sum: u128,
}

impl TableSum {
    /// Adds one row, given in its canonical form.
    pub(super) fn add(&mut self, canonical: &str) {
        let digest = Sha256::digest(canonical.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
    }

    /// The sum in hex, as reports print it.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}

/// The canonical spelling of a row whose columns have the kinds `kinds`.
///
/// # Errors
/// When a JSON column holds something that is not JSON.
pub(super) fn canonical_row(kinds: &[super::tables::Kind], row: &[Cell]) -> Result<String, String> {
    use super::tables::Kind;
    let mut out = String::new();
    for (kind, cell) in kinds.iter().zip(row) {
        match (kind, cell) {
            (_, Cell::Null) => out.push('N'),
            (Kind::Json, Cell::Text(raw)) => {
                let value: serde_json::Value = serde_json::from_str(raw)
                    .map_err(|e| format!("a JSON column holds no JSON: {e}"))?;
                let mut json = String::new();
                canonical_json(&value, &mut json);
                push_tagged(&mut out, 'j', &json);
            }
            (_, Cell::Text(s)) => push_tagged(&mut out, 't', s),
            (_, Cell::Int(i)) => push_tagged(&mut out, 'i', &i.to_string()),
            (_, Cell::Bool(b)) => push_tagged(&mut out, 'i', if *b { "1" } else { "0" }),
            (_, Cell::Blob(bytes)) => push_tagged(&mut out, 'x', &hex::encode(bytes)),
        }
    }
    Ok(out)
}

fn push_tagged(out: &mut String, tag: char, text: &str) {
    out.push(tag);
    out.push_str(&text.len().to_string());
    out.push(':');
    out.push_str(text);
}

/// JSON with object keys sorted and numbers spelt one way (integral values as integers).
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// Postgres' `jsonb` respells numbers (`1e2` comes back as `100`, `1.50` as `1.50`); serde
/// reads both spellings to the same value, which is what is compared.
fn canonical_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    // Integral and exactly representable: the integer spelling, as an integer literal reads.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return (f as i64).to_string();
    }
    format!("{f:e}")
}

#[cfg(test)]
mod tests {
    use super::super::tables::Kind;
    use super::*;

    fn sum_of(rows: &[Vec<Cell>], kinds: &[Kind]) -> TableSum {
        let mut sum = TableSum::default();
        for row in rows {
            sum.add(&canonical_row(kinds, row).unwrap());
        }
        sum
    }

    #[test]
    fn json_is_compared_by_meaning_not_spelling() {
        let kinds = [Kind::Json];
        let sqlite = canonical_row(&kinds, &[Cell::Text(r#"{"b":1e2,"a":[true,null]}"#.into())]);
        let postgres = canonical_row(
            &kinds,
            &[Cell::Text(r#"{"a": [true, null], "b": 100}"#.into())],
        );
        assert_eq!(sqlite, postgres);
    }

    #[test]
    fn booleans_read_as_integers_match_real_booleans() {
        let kinds = [Kind::Bool];
        assert_eq!(
            canonical_row(&kinds, &[Cell::Int(1)]),
            canonical_row(&kinds, &[Cell::Bool(true)])
        );
        assert_ne!(
            canonical_row(&kinds, &[Cell::Int(0)]),
            canonical_row(&kinds, &[Cell::Bool(true)])
        );
    }

    #[test]
    fn null_empty_and_shifted_values_differ() {
        let kinds = [Kind::Text, Kind::Text];
        let a = canonical_row(&kinds, &[Cell::Text("ab".into()), Cell::Text("c".into())]);
        let b = canonical_row(&kinds, &[Cell::Text("a".into()), Cell::Text("bc".into())]);
        let c = canonical_row(&kinds, &[Cell::Text(String::new()), Cell::Null]);
        let d = canonical_row(&kinds, &[Cell::Null, Cell::Text(String::new())]);
        assert_ne!(a, b);
        assert_ne!(c, d);
    }

    #[test]
    fn the_sum_ignores_row_order_but_not_content() {
        let kinds = [Kind::Int, Kind::Blob];
        let rows = vec![
            vec![Cell::Int(1), Cell::Blob(vec![0, 1])],
            vec![Cell::Int(2), Cell::Null],
        ];
        let reversed: Vec<_> = rows.iter().rev().cloned().collect();
        assert_eq!(sum_of(&rows, &kinds), sum_of(&reversed, &kinds));
        let changed = vec![rows[0].clone(), vec![Cell::Int(2), Cell::Blob(vec![])]];
        assert_ne!(sum_of(&rows, &kinds), sum_of(&changed, &kinds));
    }

    #[test]
    fn not_json_in_a_json_column_is_an_error() {
        assert!(canonical_row(&[Kind::Json], &[Cell::Text("{".into())]).is_err());
    }
}
