//! Ids and timestamps of new threads and items.

use chrono::{DateTime, SubsecRound, Utc};

/// `thr_` + 32 hex digits of a UUIDv7: 128 bits, time-ordered.
pub fn new_thread_id() -> String {
    format!("thr_{}", uuid::Uuid::now_v7().simple())
}

/// `msg_` + 32 hex digits of a UUIDv7.
pub fn new_item_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// Now, at the microsecond precision the store keeps, so what is returned equals what is read.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_protocol_prefix_and_sort_by_creation() {
        let a = new_item_id();
        let b = new_item_id();
        assert!(a.starts_with("msg_") && a.len() == 36);
        assert!(a < b, "UUIDv7 ids are time-ordered");
        assert!(new_thread_id().starts_with("thr_"));
    }
}
