use chrono::{DateTime, Utc};

use super::*;
use crate::domain::ports::{MockRefreshTokenStore, MockUserStore};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_763_800_000, 0).unwrap()
}

fn user(id: &str, disabled_at: Option<DateTime<Utc>>) -> User {
    User {
        id: id.into(),
        email: Some("ada@example.org".into()),
        email_verified: true,
        name: Some("Ada\u{1b}[2J".into()),
        tier: Tier::Free,
        role: "student".into(),
        created_at: now(),
        disabled_at,
    }
}

#[test]
fn bad_ids_are_refused_before_anything_runs() {
    for id in ["  ", "usr\n1", &"u".repeat(201)] {
        let err = Action::parse(UsersCommand::Disable { id: id.into() }).unwrap_err();
        assert!(matches!(err, UsersError::Invalid(_)), "{id:?}");
        assert_eq!(err.exit_code(), ExitCode::from(2));
    }
    assert_eq!(
        Action::parse(UsersCommand::SetRole {
            id: " usr_1 ".into(),
            role: RoleArg::Teacher
        })
        .unwrap(),
        Action::SetRole {
            id: "usr_1".into(),
            role: "teacher"
        }
    );
}

#[test]
fn every_role_argument_is_a_known_role() {
    for role in RoleArg::value_variants() {
        assert!(crate::domain::identity::ROLES.contains(&role.as_str()));
    }
}

#[tokio::test]
async fn an_unknown_user_is_reported_with_exit_status_1() {
    let mut users = MockUserStore::new();
    users
        .expect_set_tier()
        .returning(|_, _| Err(StoreError::NotFound));
    let tokens = MockRefreshTokenStore::new();
    let action = Action::SetTier {
        id: "usr_nope".into(),
        tier: Tier::Premium,
    };

    let err = execute(&users, &tokens, action, now()).await.unwrap_err();

    assert_eq!(err.to_string(), "no user has id \"usr_nope\"");
    assert_eq!(err.exit_code(), ExitCode::FAILURE);
}

#[tokio::test]
async fn disable_revokes_the_tokens_of_the_user_and_says_how_many() {
    let mut users = MockUserStore::new();
    users
        .expect_set_disabled()
        .times(1)
        .returning(|id, at| Ok(user(id, at)));
    let mut tokens = MockRefreshTokenStore::new();
    tokens
        .expect_revoke_user()
        .withf(|id, at| id == "usr_1" && *at == now())
        .times(1)
        .returning(|_, _| Ok(2));

    let text = execute(
        &users,
        &tokens,
        Action::Disable { id: "usr_1".into() },
        now(),
    )
    .await
    .unwrap();

    assert_eq!(
        text,
        "Disabled user usr_1 at 2025-11-22T08:26:40Z; revoked 2 refresh tokens.\n"
    );
}

#[tokio::test]
async fn disabling_a_disabled_user_keeps_the_first_time() {
    let mut users = MockUserStore::new();
    let before = DateTime::from_timestamp(1_700_000_000, 0);
    users
        .expect_set_disabled()
        .returning(move |id, _| Ok(user(id, before)));
    let mut tokens = MockRefreshTokenStore::new();
    tokens.expect_revoke_user().returning(|_, _| Ok(0));

    let text = execute(
        &users,
        &tokens,
        Action::Disable { id: "usr_1".into() },
        now(),
    )
    .await
    .unwrap();

    assert!(
        text.contains("already disabled at 2023-11-14T22:13:20Z"),
        "{text}"
    );
}

#[tokio::test]
async fn the_list_is_a_table_with_control_characters_replaced_or_json() {
    let mut users = MockUserStore::new();
    users
        .expect_list()
        .withf(|limit| *limit == 5)
        .returning(|_| Ok(vec![user("usr_1", None)]));
    let tokens = MockRefreshTokenStore::new();

    let table = execute(
        &users,
        &tokens,
        Action::List {
            limit: 5,
            json: false,
        },
        now(),
    )
    .await
    .unwrap();
    let json = execute(
        &users,
        &tokens,
        Action::List {
            limit: 5,
            json: true,
        },
        now(),
    )
    .await
    .unwrap();

    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  "), "{table}");
    assert!(
        lines[1].contains("Ada?[2J") && lines[1].contains("free"),
        "{table}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[0]["id"], "usr_1");
    assert_eq!(parsed[0]["tier"], "free");
    assert_eq!(output::table(&[]), "No users.\n");
}
