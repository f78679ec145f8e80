//! `UserStore`: who a profile signs in as, and the operator's changes.

use study_mode_api::domain::identity::Provider::{Github, Google};
use study_mode_api::domain::ports::{StoreError, UserStore};
use study_mode_api::domain::principal::Tier;

use super::super::{Fixture, assert_not_found, at};
use super::{profile, users};

sql_contract!(
    a_first_sign_in_creates_a_free_student,
    the_same_identity_signs_in_again_as_the_same_user_refreshed,
    a_second_provider_with_the_same_verified_address_joins_the_user,
    an_unverified_address_on_either_side_joins_no_one,
    concurrent_first_sign_ins_of_one_identity_give_one_user,
    concurrent_first_sign_ins_with_one_verified_address_give_one_user,
    tier_role_and_disabling_are_set_and_unknown_users_are_not_found,
    delete_removes_the_user_and_its_identities,
    a_verified_address_another_user_holds_is_refreshed_unverified,
);

async fn a_first_sign_in_creates_a_free_student(fx: &Fixture) {
    let store = users(fx);
    let p = profile(Github, "42", Some("  Ada@Example.ORG "), true);

    let user = store.sign_in(&p, "usr_1", at(0)).await.expect("signs in");

    assert_eq!(user.id, "usr_1");
    assert_eq!(user.email.as_deref(), Some("ada@example.org"));
    assert!(user.email_verified);
    assert_eq!(user.name.as_deref(), Some("Account 42"));
    assert_eq!((user.tier, user.role.as_str()), (Tier::Free, "student"));
    assert_eq!((user.created_at, user.disabled_at), (at(0), None));
    assert_eq!(store.get("usr_1").await.expect("loads"), Some(user));
    assert_eq!(store.get("usr_2").await.expect("loads"), None);
    assert_eq!(
        store.identities("usr_1").await.expect("lists"),
        vec![(Github, "42".to_owned())]
    );
}

async fn the_same_identity_signs_in_again_as_the_same_user_refreshed(fx: &Fixture) {
    let store = users(fx);
    store
        .sign_in(
            &profile(Github, "42", Some("a@x.org"), true),
            "usr_1",
            at(0),
        )
        .await
        .expect("first sign-in");
    let mut again = profile(Github, "42", Some("b@x.org"), true);
    again.name = Some("Ada L.".to_owned());

    let user = store
        .sign_in(&again, "usr_2", at(5))
        .await
        .expect("signs in");

    assert_eq!(user.id, "usr_1", "the new id is not used");
    assert_eq!(user.email.as_deref(), Some("b@x.org"));
    assert_eq!(user.name.as_deref(), Some("Ada L."));
    assert_eq!(user.created_at, at(0));
    // A profile without address or name keeps the stored ones.
    let mut bare = profile(Github, "42", None, false);
    bare.name = None;
    let kept = store
        .sign_in(&bare, "usr_3", at(6))
        .await
        .expect("signs in");
    assert_eq!(kept, user);
    assert_eq!(store.list(10).await.expect("lists").len(), 1);
}

async fn a_second_provider_with_the_same_verified_address_joins_the_user(fx: &Fixture) {
    let store = users(fx);
    let first = store
        .sign_in(
            &profile(Github, "42", Some("ada@x.org"), true),
            "usr_1",
            at(0),
        )
        .await
        .expect("first sign-in");

    let joined = store
        .sign_in(
            &profile(Google, "g-7", Some("ADA@x.org"), true),
            "usr_2",
            at(1),
        )
        .await
        .expect("second provider");

    assert_eq!(joined.id, first.id);
    assert_eq!(
        store.identities("usr_1").await.expect("lists"),
        vec![(Github, "42".to_owned()), (Google, "g-7".to_owned())],
        "in the order they were linked"
    );
    assert_eq!(store.get("usr_2").await.expect("loads"), None);
    let again = store
        .sign_in(&profile(Google, "g-7", None, false), "usr_3", at(2))
        .await
        .expect("the linked identity");
    assert_eq!(again.id, "usr_1");
}

async fn an_unverified_address_on_either_side_joins_no_one(fx: &Fixture) {
    let store = users(fx);
    // A verified holder, and a newcomer whose provider did not verify the same address.
    let holder = store
        .sign_in(
            &profile(Github, "1", Some("ada@x.org"), true),
            "usr_1",
            at(0),
        )
        .await
        .expect("holder");
    let newcomer = store
        .sign_in(
            &profile(Google, "g-1", Some("ada@x.org"), false),
            "usr_2",
            at(1),
        )
        .await
        .expect("newcomer");
    assert_ne!(newcomer.id, holder.id);
    assert!(!newcomer.email_verified);

    // An unverified holder, and a newcomer whose provider verified the same address.
    let unverified = store
        .sign_in(
            &profile(Github, "2", Some("bob@x.org"), false),
            "usr_3",
            at(2),
        )
        .await
        .expect("unverified holder");
    let verified = store
        .sign_in(
            &profile(Google, "g-2", Some("bob@x.org"), true),
            "usr_4",
            at(3),
        )
        .await
        .expect("verified newcomer");
    assert_ne!(verified.id, unverified.id);
    assert!(verified.email_verified);

    assert_eq!(store.list(10).await.expect("lists").len(), 4);
    assert_eq!(store.identities("usr_1").await.expect("lists").len(), 1);
    assert_eq!(store.identities("usr_3").await.expect("lists").len(), 1);
}

async fn concurrent_first_sign_ins_of_one_identity_give_one_user(fx: &Fixture) {
    let store = users(fx);
    let p = profile(Google, "g-1", Some("ada@x.org"), false);

    let (a, b) = tokio::join!(
        store.sign_in(&p, "usr_a", at(0)),
        store.sign_in(&p, "usr_b", at(0))
    );

    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a.id, b.id);
    assert_eq!(store.list(10).await.expect("lists").len(), 1);
    assert_eq!(store.identities(&a.id).await.expect("lists").len(), 1);
}

async fn concurrent_first_sign_ins_with_one_verified_address_give_one_user(fx: &Fixture) {
    let store = users(fx);
    let github = profile(Github, "42", Some("ada@x.org"), true);
    let google = profile(Google, "g-7", Some("ada@x.org"), true);

    let (a, b) = tokio::join!(
        store.sign_in(&github, "usr_a", at(0)),
        store.sign_in(&google, "usr_b", at(0))
    );

    let (a, b) = (a.expect("github"), b.expect("google"));
    assert_eq!(a.id, b.id);
    assert_eq!(store.list(10).await.expect("lists").len(), 1);
    assert_eq!(store.identities(&a.id).await.expect("lists").len(), 2);
}

async fn tier_role_and_disabling_are_set_and_unknown_users_are_not_found(fx: &Fixture) {
    let store = users(fx);
    store
        .sign_in(&profile(Github, "42", None, false), "usr_1", at(0))
        .await
        .expect("signs in");

    let user = store.set_tier("usr_1", Tier::Premium).await.expect("tier");
    assert_eq!(user.tier, Tier::Premium);
    let user = store.set_role("usr_1", "teacher").await.expect("role");
    assert_eq!(user.role, "teacher");
    let user = store.set_disabled("usr_1", Some(at(5))).await.expect("off");
    assert_eq!(user.disabled_at, Some(at(5)));
    assert!(!user.is_active());
    let user = store
        .set_disabled("usr_1", Some(at(9)))
        .await
        .expect("again");
    assert_eq!(user.disabled_at, Some(at(5)), "the first time stays");
    let user = store.set_disabled("usr_1", None).await.expect("on");
    assert_eq!(user.disabled_at, None);
    assert_eq!(store.get("usr_1").await.expect("loads"), Some(user.clone()));
    assert_eq!((user.tier, user.role.as_str()), (Tier::Premium, "teacher"));

    let bad_role = store.set_role("usr_1", "root").await;
    assert!(
        matches!(bad_role, Err(StoreError::Unexpected(_))),
        "{bad_role:?}"
    );
    assert_not_found(store.set_tier("usr_x", Tier::Admin).await, "set_tier");
    assert_not_found(store.set_role("usr_x", "admin").await, "set_role");
    assert_not_found(store.set_disabled("usr_x", Some(at(1))).await, "disable");
    assert_not_found(store.set_disabled("usr_x", None).await, "enable");
}

async fn delete_removes_the_user_and_its_identities(fx: &Fixture) {
    let store = users(fx);
    for (p, id) in [
        (profile(Github, "42", Some("ada@x.org"), true), "usr_1"),
        (profile(Google, "g-7", Some("ada@x.org"), true), "usr_2"),
    ] {
        store.sign_in(&p, id, at(0)).await.expect("signs in");
    }

    assert!(store.delete("usr_1").await.expect("deletes"));

    assert_eq!(store.get("usr_1").await.expect("loads"), None);
    assert!(store.identities("usr_1").await.expect("lists").is_empty());
    assert_eq!(fx.scalar("SELECT COUNT(*) FROM user_identities").await, 0);
    assert!(!store.delete("usr_1").await.expect("deletes nothing"));
    let again = store
        .sign_in(
            &profile(Google, "g-7", Some("ada@x.org"), true),
            "usr_3",
            at(1),
        )
        .await
        .expect("signs in as someone new");
    assert_eq!(again.id, "usr_3");
}

async fn a_verified_address_another_user_holds_is_refreshed_unverified(fx: &Fixture) {
    let store = users(fx);
    store
        .sign_in(
            &profile(Github, "1", Some("ada@x.org"), true),
            "usr_1",
            at(0),
        )
        .await
        .expect("holder");
    store
        .sign_in(
            &profile(Google, "g-2", Some("bob@x.org"), true),
            "usr_2",
            at(1),
        )
        .await
        .expect("bob");

    // Bob's Google account now says it verified Ada's address.
    let moved = store
        .sign_in(
            &profile(Google, "g-2", Some("ada@x.org"), true),
            "usr_3",
            at(2),
        )
        .await
        .expect("signs in");

    assert_eq!(moved.id, "usr_2");
    assert_eq!(moved.email.as_deref(), Some("ada@x.org"));
    assert!(!moved.email_verified, "one address verifies one user");
    let holder = store.get("usr_1").await.expect("loads").expect("kept");
    assert!(holder.email_verified);
    // An unverified profile of the stored address keeps it verified.
    let mut unverified = profile(Github, "1", Some("ada@x.org"), false);
    unverified.name = None;
    let kept = store
        .sign_in(&unverified, "usr_4", at(3))
        .await
        .expect("signs in");
    assert!(kept.email_verified, "{kept:?}");
}

/// With its only connection taken, a sign-in gives up after the acquire timeout and writes
/// nothing.
async fn a_sign_in_without_a_free_connection_is_unavailable(fx: Fixture) {
    use sea_orm::TransactionTrait;
    let store = users(&fx);
    let p = profile(Github, "42", Some("ada@x.org"), true);
    let held = fx
        .db
        .connection()
        .begin()
        .await
        .expect("the only connection");

    let result = store.sign_in(&p, "usr_1", at(0)).await;

    assert!(matches!(result, Err(StoreError::Unavailable)), "{result:?}");
    held.rollback().await.expect("released");
    assert_eq!(store.get("usr_1").await.expect("loads"), None);
    let user = store.sign_in(&p, "usr_1", at(1)).await.expect("signs in");
    assert_eq!(user.created_at, at(1));
}

#[tokio::test]
async fn a_sign_in_without_a_free_connection_is_unavailable_on_sqlite() {
    let fx = super::super::sqlite_with(super::super::ONE_CONNECTION).await;
    a_sign_in_without_a_free_connection_is_unavailable(fx).await;
}

#[tokio::test]
async fn a_sign_in_without_a_free_connection_is_unavailable_on_postgres() {
    if let Some(fx) = super::super::postgres_with(super::super::ONE_CONNECTION).await {
        a_sign_in_without_a_free_connection_is_unavailable(fx).await;
    }
}
