use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::api_key::parse_key;
use crate::domain::ports::MockApiKeyStore;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_763_800_000, 0).unwrap()
}

fn stored(id: &str, revoked_at: Option<DateTime<Utc>>) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        name: "ci".into(),
        scopes: vec!["admin".into()],
        tier: Tier::Free,
        secret_hash: hash_secret("abcdefghijklmnopqrstuvwxyzABCDEF0123456789"),
        created_at: now(),
        last_used_at: None,
        revoked_at,
    }
}

fn create_cmd(name: &str, scopes: &str) -> KeysCommand {
    KeysCommand::Create {
        name: name.into(),
        scopes: scopes.into(),
        tier: TierArg::Premium,
    }
}

#[test]
fn random_strings_have_the_length_and_alphabet_asked_for() {
    let id = random_string(ID_ALPHABET, ID_LEN);
    assert_eq!(id.len(), ID_LEN);
    assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)), "{id}");
    let secret = random_string(SECRET_ALPHABET, SECRET_LEN);
    assert_eq!(secret.len(), SECRET_LEN);
    assert!(
        secret.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{secret}"
    );
    assert_ne!(secret, random_string(SECRET_ALPHABET, SECRET_LEN));
}

#[test]
fn every_symbol_of_the_alphabet_is_drawn() {
    // 4,000 draws over 62 symbols: a symbol missing by chance has probability below 1e-25.
    let text = random_string(SECRET_ALPHABET, 4_000);
    for symbol in SECRET_ALPHABET {
        assert!(text.as_bytes().contains(symbol), "{}", char::from(*symbol));
    }
}

#[test]
fn bad_scopes_and_names_are_refused_before_anything_runs() {
    let err = Action::parse(create_cmd("ci", "admin,root")).unwrap_err();
    assert!(matches!(err, KeysError::Invalid(_)));
    assert!(err.to_string().contains("unknown scope \"root\""), "{err}");
    assert_eq!(err.exit_code(), ExitCode::from(2));
    for name in ["  ", "a\u{1b}[2Jb", &"n".repeat(201)] {
        let err = Action::parse(create_cmd(name, "admin")).unwrap_err();
        assert!(matches!(err, KeysError::Invalid(_)), "{name:?}");
    }
    assert_eq!(
        Action::parse(create_cmd(" ci ", "lessons:purge,admin")).unwrap(),
        Action::Create {
            name: "ci".into(),
            scopes: vec!["lessons:purge".into(), "admin".into()],
            tier: Tier::Premium,
        }
    );
}

#[tokio::test]
async fn create_stores_the_hash_of_the_key_it_prints_once() {
    let seen: Arc<Mutex<Vec<ApiKeyRecord>>> = Arc::default();
    let mut store = MockApiKeyStore::new();
    let sink = seen.clone();
    store.expect_insert().times(1).returning(move |k| {
        sink.lock().unwrap().push(k.clone());
        Ok(())
    });
    let action = Action::parse(create_cmd("ci", "admin")).unwrap();

    let text = execute(&store, action, now()).await.unwrap();

    let record = seen.lock().unwrap()[0].clone();
    let keys: Vec<_> = text.lines().filter_map(|l| parse_key(l.trim())).collect();
    assert_eq!(keys.len(), 1, "the key is printed once: {text}");
    assert_eq!(keys[0].id, record.id);
    assert!(record.secret_matches(keys[0].secret));
    assert!(!text.contains(&record.secret_hash));
    assert!(text.contains("cannot be shown again"), "{text}");
    assert_eq!(record.tier, Tier::Premium);
    assert_eq!(record.created_at, now());
    assert_eq!((record.last_used_at, record.revoked_at), (None, None));
}

#[tokio::test]
async fn create_draws_another_id_when_one_is_taken_and_gives_up_after_three() {
    let mut store = MockApiKeyStore::new();
    let mut calls = 0;
    store.expect_insert().times(2).returning(move |_| {
        calls += 1;
        if calls == 1 {
            Err(StoreError::Conflict)
        } else {
            Ok(())
        }
    });
    create(&store, "ci".into(), vec!["admin".into()], Tier::Free, now())
        .await
        .expect("second id is free");

    let mut full = MockApiKeyStore::new();
    full.expect_insert()
        .times(ID_ATTEMPTS)
        .returning(|_| Err(StoreError::Conflict));
    let err = create(&full, "ci".into(), vec!["admin".into()], Tier::Free, now()).await;
    assert!(matches!(err, Err(KeysError::NoFreeId)), "{err:?}");
}

#[tokio::test]
async fn revoking_an_unknown_key_fails_and_a_revoked_key_keeps_its_first_time() {
    let mut store = MockApiKeyStore::new();
    store.expect_find().returning(|id| {
        Ok((id == "old").then(|| stored("old", DateTime::from_timestamp(1_700_000_000, 0))))
    });
    store.expect_revoke().never();

    let unknown = execute(&store, Action::Revoke { id: "nope".into() }, now()).await;
    assert!(
        matches!(unknown, Err(KeysError::UnknownKey(_))),
        "{unknown:?}"
    );
    assert_eq!(
        unknown.unwrap_err().exit_code(),
        ExitCode::FAILURE,
        "exit status 1"
    );
    let again = execute(&store, Action::Revoke { id: "old".into() }, now())
        .await
        .unwrap();
    assert!(
        again.contains("already revoked at 2023-11-14T22:13:20Z"),
        "{again}"
    );
}

#[tokio::test]
async fn revoke_reports_the_time_stored() {
    let revoked = Arc::new(Mutex::new(None));
    let mut store = MockApiKeyStore::new();
    let read = revoked.clone();
    store
        .expect_find()
        .returning(move |id| Ok(Some(stored(id, *read.lock().unwrap()))));
    let write = revoked.clone();
    store.expect_revoke().times(1).returning(move |_, at| {
        *write.lock().unwrap() = Some(at);
        Ok(())
    });

    let text = execute(&store, Action::Revoke { id: "k1".into() }, now())
        .await
        .unwrap();

    assert_eq!(text, "Revoked API key k1 at 2025-11-22T08:26:40Z.\n");
}

#[tokio::test]
async fn the_list_is_a_table_without_secrets_or_hashes() {
    let mut used = stored("k1", None);
    used.last_used_at = Some(now());
    used.name = "evil\nname".into();
    let keys = vec![used, stored("k2", Some(now()))];
    let hashes: Vec<String> = keys.iter().map(|k| k.secret_hash.clone()).collect();
    let mut store = MockApiKeyStore::new();
    store.expect_list().returning(move || Ok(keys.clone()));

    let text = execute(&store, Action::List, now()).await.unwrap();

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID  "), "{text}");
    assert!(lines[1].starts_with("k1  ") && lines[1].contains("evil?name"));
    assert!(lines[2].ends_with("2025-11-22T08:26:40Z"), "{text}");
    assert!(hashes.iter().all(|h| !text.contains(h.as_str())));
    assert_eq!(output::table(&[]), "No API keys.\n");
}
