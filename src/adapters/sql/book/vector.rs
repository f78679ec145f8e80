//! How a section's embedding is stored: its `f32`s little-endian, one after the other (a
//! `BLOB` on SQLite, a `bytea` on Postgres), so either engine holds it without an extension.

/// The bytes of `vector`.
pub fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector `bytes` hold; `None` when their length is not a whole number of `f32`s.
pub fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    bytes
        .chunks_exact(4)
        .map(|b| <[u8; 4]>::try_from(b).ok().map(f32::from_le_bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_survives_the_bytes_round_trip() {
        let vector = vec![0.0, -1.5, f32::MIN_POSITIVE, 3.25e7, f32::MAX];
        let bytes = encode(&vector);
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[4..8], &(-1.5f32).to_le_bytes());
        assert_eq!(decode(&bytes), Some(vector));
        assert_eq!(decode(&[]), Some(vec![]));
    }

    #[test]
    fn bytes_that_are_not_whole_floats_are_refused() {
        assert_eq!(decode(&[0, 0, 128]), None);
        assert_eq!(decode(&[0, 0, 128, 63, 1]), None);
    }
}
