//! `RefreshTokenStore`: storing, rotating and revoking hashed refresh tokens.

use chrono::Duration;
use study_mode_api::domain::identity::{RefreshTokenRecord, hash_refresh_token};
use study_mode_api::domain::ports::{RefreshTokenStore, Rotation, StoreError};

use super::super::{Fixture, at};
use super::tokens;

sql_contract!(
    insert_then_find_returns_every_field_and_a_repeated_hash_conflicts,
    rotate_replaces_a_live_token_once_then_is_lost,
    of_two_concurrent_rotations_exactly_one_rotates,
    revocations_count_live_tokens_and_end_the_family,
);

/// A live token `name` of `family` and `user`, issued at `at(issued)` for a week.
fn token(name: &str, family: &str, user: &str, issued: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: hash_refresh_token(&format!("rt_{name}")),
        family_id: family.to_owned(),
        user_id: user.to_owned(),
        issued_at: at(issued),
        expires_at: at(issued) + Duration::days(7),
        replaced_by: None,
        revoked_at: None,
    }
}

async fn insert_then_find_returns_every_field_and_a_repeated_hash_conflicts(fx: &Fixture) {
    let store = tokens(fx);
    let mut full = token("a", "fam_1", "usr_1", 0);
    full.replaced_by = Some(hash_refresh_token("rt_b"));
    full.revoked_at = Some(at(3));
    let bare = token("c", "fam_1", "usr_1", 1);

    for t in [&full, &bare] {
        store.insert(t).await.expect("stored");
        assert_eq!(store.find(&t.hash).await.expect("loads").as_ref(), Some(t));
    }
    let again = store.insert(&token("c", "fam_2", "usr_2", 9)).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert_eq!(store.find(&bare.hash).await.expect("loads"), Some(bare));
    assert_eq!(store.find("0000").await.expect("loads"), None);
}

async fn rotate_replaces_a_live_token_once_then_is_lost(fx: &Fixture) {
    let store = tokens(fx);
    let old = token("1", "fam", "usr_1", 0);
    let new = token("2", "fam", "usr_1", 10);
    store.insert(&old).await.expect("stored");

    assert_eq!(
        store.rotate(&old.hash, &new).await.expect("rotates"),
        Rotation::Rotated
    );

    let replaced = store.find(&old.hash).await.expect("loads").expect("kept");
    assert_eq!(replaced.replaced_by.as_deref(), Some(new.hash.as_str()));
    assert_eq!(
        store.find(&new.hash).await.expect("loads"),
        Some(new.clone())
    );
    let late = token("3", "fam", "usr_1", 20);
    assert_eq!(
        store.rotate(&old.hash, &late).await.expect("runs"),
        Rotation::Lost
    );
    assert_eq!(
        store.find(&late.hash).await.expect("loads"),
        None,
        "nothing written"
    );
    let unknown = token("4", "fam", "usr_1", 20);
    assert_eq!(
        store.rotate("feed", &unknown).await.expect("runs"),
        Rotation::Lost
    );
    assert_eq!(store.find(&unknown.hash).await.expect("loads"), None);
}

async fn of_two_concurrent_rotations_exactly_one_rotates(fx: &Fixture) {
    let store = tokens(fx);
    let old = token("1", "fam", "usr_1", 0);
    store.insert(&old).await.expect("stored");
    let (a, b) = (token("a", "fam", "usr_1", 5), token("b", "fam", "usr_1", 5));

    let (ra, rb) = tokio::join!(store.rotate(&old.hash, &a), store.rotate(&old.hash, &b));

    let outcomes = [ra.expect("a runs"), rb.expect("b runs")];
    assert_eq!(
        outcomes.iter().filter(|r| **r == Rotation::Rotated).count(),
        1,
        "{outcomes:?}"
    );
    let winner = if outcomes[0] == Rotation::Rotated {
        &a
    } else {
        &b
    };
    let loser = if outcomes[0] == Rotation::Rotated {
        &b
    } else {
        &a
    };
    let replaced = store.find(&old.hash).await.expect("loads").expect("kept");
    assert_eq!(replaced.replaced_by.as_ref(), Some(&winner.hash));
    assert_eq!(store.find(&loser.hash).await.expect("loads"), None);
}

async fn revocations_count_live_tokens_and_end_the_family(fx: &Fixture) {
    let store = tokens(fx);
    // fam_1: one rotation (one live token); fam_2: one live token; fam_3: expired.
    let (t1, t2) = (
        token("1", "fam_1", "usr_1", 0),
        token("2", "fam_1", "usr_1", 10),
    );
    let t3 = token("3", "fam_2", "usr_1", 0);
    let mut t4 = token("4", "fam_3", "usr_1", 0);
    t4.expires_at = at(50);
    let other = token("5", "fam_4", "usr_2", 0);
    for t in [&t1, &t3, &t4, &other] {
        store.insert(t).await.expect("stored");
    }
    store.rotate(&t1.hash, &t2).await.expect("rotates");
    let now = at(100);
    assert!(store.family_alive("fam_1", now).await.expect("checks"));
    assert!(
        !store.family_alive("fam_3", now).await.expect("checks"),
        "expired"
    );
    assert!(
        !store.family_alive("fam_x", now).await.expect("checks"),
        "unknown"
    );

    assert_eq!(store.revoke_family("fam_1", now).await.expect("revokes"), 1);

    assert!(!store.family_alive("fam_1", now).await.expect("checks"));
    for t in [&t1, &t2] {
        let found = store.find(&t.hash).await.expect("loads").expect("kept");
        assert_eq!(found.revoked_at, Some(now), "every token of the family");
    }
    let later = at(200);
    assert_eq!(store.revoke_family("fam_1", later).await.expect("again"), 0);
    let found = store.find(&t2.hash).await.expect("loads").expect("kept");
    assert_eq!(found.revoked_at, Some(now), "the first time stays");
    let next = token("6", "fam_1", "usr_1", 300);
    assert_eq!(
        store.rotate(&t2.hash, &next).await.expect("runs"),
        Rotation::Lost
    );

    // usr_1 still has fam_2 live and fam_3 expired: one live token.
    assert_eq!(store.revoke_user("usr_1", later).await.expect("revokes"), 1);
    assert!(!store.family_alive("fam_2", later).await.expect("checks"));
    let expired = store.find(&t4.hash).await.expect("loads").expect("kept");
    assert_eq!(expired.revoked_at, Some(later), "revoked too, not counted");
    assert!(
        store.family_alive("fam_4", later).await.expect("checks"),
        "other user"
    );
    assert_eq!(store.revoke_user("usr_1", later).await.expect("again"), 0);
}
