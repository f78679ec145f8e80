//! API keys: the `ApiKeyStore` contract on the SQL adapter (insert, find, list, revoke, touch).

use study_mode_api::adapters::sql::api_keys::SqlApiKeyStore;
use study_mode_api::domain::api_key::{ApiKeyRecord, hash_secret};
use study_mode_api::domain::ports::{ApiKeyStore, StoreError};
use study_mode_api::domain::principal::Tier;

use super::{Fixture, ONE_CONNECTION, assert_not_found, at, postgres_with, sqlite_with};

/// `ApiKeyStore` contracts: `async fn name(store: &dyn ApiKeyStore)`, on a store sharing the
/// fixture's database.
macro_rules! key_contract {
    ($($name:ident),+ $(,)?) => {
        $( on_each_engine!(
            $name,
            f => super::$name(&study_mode_api::adapters::sql::api_keys::SqlApiKeyStore::new(
                f.db.clone()
            ))
        ); )+
    };
}

key_contract!(
    insert_then_find_returns_every_field,
    inserting_an_existing_id_is_a_conflict,
    finding_a_missing_key_is_none,
    list_returns_every_key_oldest_first,
    revoke_marks_the_key_and_a_second_revoke_keeps_the_first_time,
    revoking_a_missing_key_is_not_found,
    touch_records_the_latest_use_and_ignores_missing_keys,
);

fn key(id: &str, created: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: format!("service {id}"),
        scopes: vec!["lessons:purge".to_owned()],
        tier: Tier::Free,
        secret_hash: hash_secret(&format!("secret-of-{id}")),
        created_at: at(created),
        last_used_at: None,
        revoked_at: None,
    }
}

async fn insert_then_find_returns_every_field(store: &dyn ApiKeyStore) {
    let mut full = key("full1", 0);
    full.name = "Équipe « CI » ✓".to_owned();
    full.scopes = vec!["admin".to_owned(), "lessons:purge".to_owned()];
    full.tier = Tier::Premium;
    full.last_used_at = Some(at(5));
    full.revoked_at = Some(at(7));
    let bare = key("bare1", 1);

    for k in [&full, &bare] {
        store.insert(k).await.expect("key is stored");
        let found = store.find(&k.id).await.expect("key loads");
        assert_eq!(found.as_ref(), Some(k), "every field round-trips");
    }
}

async fn inserting_an_existing_id_is_a_conflict(store: &dyn ApiKeyStore) {
    store.insert(&key("dup", 0)).await.expect("first insert");
    let mut other = key("dup", 9);
    other.secret_hash = hash_secret("another secret");
    let again = store.insert(&other).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let kept = store.find("dup").await.expect("loads").expect("exists");
    assert_eq!(kept, key("dup", 0), "the original is untouched");
}

async fn finding_a_missing_key_is_none(store: &dyn ApiKeyStore) {
    assert_eq!(store.find("nope").await.expect("query runs"), None);
    assert_eq!(store.find("").await.expect("query runs"), None);
}

async fn list_returns_every_key_oldest_first(store: &dyn ApiKeyStore) {
    assert!(store.list().await.expect("lists").is_empty());
    // Inserted out of order; two share an instant and are then ordered by id.
    for k in [key("c", 2), key("b", 1), key("a2", 1), key("z", 0)] {
        store.insert(&k).await.expect("stored");
    }
    store.revoke("b", at(10)).await.expect("revoked");

    let ids: Vec<String> = store
        .list()
        .await
        .expect("lists")
        .into_iter()
        .map(|k| k.id)
        .collect();

    assert_eq!(ids, ["z", "a2", "b", "c"], "revoked keys are listed too");
}

async fn revoke_marks_the_key_and_a_second_revoke_keeps_the_first_time(store: &dyn ApiKeyStore) {
    store.insert(&key("k1", 0)).await.expect("stored");
    store.insert(&key("k2", 0)).await.expect("stored");

    store.revoke("k1", at(100)).await.expect("first revoke");
    store
        .revoke("k1", at(200))
        .await
        .expect("second revoke succeeds");

    let k1 = store.find("k1").await.expect("loads").expect("exists");
    assert_eq!(k1.revoked_at, Some(at(100)), "the first time is kept");
    let k2 = store.find("k2").await.expect("loads").expect("exists");
    assert_eq!(k2.revoked_at, None, "other keys are untouched");
}

async fn revoking_a_missing_key_is_not_found(store: &dyn ApiKeyStore) {
    assert_not_found(store.revoke("nope", at(0)).await, "revoke");
    store.insert(&key("k1", 0)).await.expect("stored");
    assert_not_found(store.revoke("k", at(0)).await, "revoke of a prefix");
}

async fn touch_records_the_latest_use_and_ignores_missing_keys(store: &dyn ApiKeyStore) {
    store.insert(&key("k1", 0)).await.expect("stored");
    store.insert(&key("k2", 0)).await.expect("stored");

    store.touch("k1", at(50)).await.expect("touched");
    assert_eq!(last_used(store, "k1").await, Some(at(50)));
    store.touch("k1", at(80)).await.expect("touched");
    assert_eq!(last_used(store, "k1").await, Some(at(80)));
    // Touches race each other without waiting: a late, older one must not win.
    store.touch("k1", at(60)).await.expect("touched");
    assert_eq!(
        last_used(store, "k1").await,
        Some(at(80)),
        "never moves back"
    );

    assert_eq!(last_used(store, "k2").await, None, "other keys untouched");
    store
        .touch("nope", at(90))
        .await
        .expect("a missing key is a no-op");
    assert!(store.find("nope").await.expect("query runs").is_none());
}

async fn last_used(store: &dyn ApiKeyStore, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    store
        .find(id)
        .await
        .expect("loads")
        .expect("exists")
        .last_used_at
}

/// With the pool's only connection taken, a key lookup gives up after the acquire timeout and
/// reports the database as unavailable, then recovers.
async fn a_key_lookup_without_a_free_connection_is_unavailable(fx: Fixture) {
    use sea_orm::TransactionTrait;
    let store = SqlApiKeyStore::new(fx.db.clone());
    store.insert(&key("k1", 0)).await.expect("stored");
    let held = fx
        .db
        .connection()
        .begin()
        .await
        .expect("the only connection");
    let result = store.find("k1").await;
    assert!(matches!(result, Err(StoreError::Unavailable)), "{result:?}");
    held.rollback().await.expect("released");
    assert!(
        store.find("k1").await.expect("served again").is_some(),
        "found once a connection is free"
    );
}

#[tokio::test]
async fn a_key_lookup_without_a_free_connection_is_unavailable_on_sqlite() {
    a_key_lookup_without_a_free_connection_is_unavailable(sqlite_with(ONE_CONNECTION).await).await;
}

#[tokio::test]
async fn a_key_lookup_without_a_free_connection_is_unavailable_on_postgres() {
    if let Some(fx) = postgres_with(ONE_CONNECTION).await {
        a_key_lookup_without_a_free_connection_is_unavailable(fx).await;
    }
}
