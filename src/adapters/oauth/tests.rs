use super::*;

#[test]
fn kept_strings_are_bounded_and_clean() {
    assert_eq!(
        bounded(" Ada\u{0}\n Lovelace ", 200).as_deref(),
        Some("Ada Lovelace")
    );
    assert_eq!(
        bounded(&"é".repeat(300), 200).map(|s| s.chars().count()),
        Some(200)
    );
    assert_eq!(bounded("\u{7}\n", 200), None);
    assert_eq!(bounded_email("a@b.c").as_deref(), Some("a@b.c"));
    assert_eq!(bounded_email("a b@c.d"), None);
    assert_eq!(bounded_email(&format!("{}@b.c", "a".repeat(400))), None);
    assert_eq!(bounded_subject("1234").as_deref(), Some("1234"));
    assert_eq!(bounded_subject("12 34"), None);
}

#[test]
fn malformed_grants_are_refused_before_anything_is_sent() {
    let verifier = "a".repeat(43);
    assert!(checked_grant("code", &verifier).is_ok());
    assert!(matches!(
        checked_grant("", &verifier),
        Err(OAuthError::Refused(_))
    ));
    assert!(matches!(
        checked_grant("co de", &verifier),
        Err(OAuthError::Refused(_))
    ));
    assert!(matches!(
        checked_grant("code", "short"),
        Err(OAuthError::Refused(_))
    ));
    assert!(matches!(
        checked_grant("code", &"a+".repeat(30)),
        Err(OAuthError::Refused(_))
    ));
}

#[test]
fn refusals_and_outages_of_the_token_exchange_are_told_apart() {
    let request = |e| exchange_error(RequestTokenError::Request(e));
    assert!(matches!(
        request(HttpError::Status(400)),
        OAuthError::Refused(_)
    ));
    assert!(matches!(
        request(HttpError::Status(401)),
        OAuthError::Refused(_)
    ));
    assert!(matches!(
        request(HttpError::Status(502)),
        OAuthError::Unavailable(_)
    ));
    assert!(matches!(
        request(HttpError::Transport("timed out")),
        OAuthError::Unavailable(_)
    ));
    assert!(matches!(
        request(HttpError::TooLarge),
        OAuthError::Unavailable(_)
    ));
    assert!(matches!(
        exchange_error(RequestTokenError::Other("x".into())),
        OAuthError::Unavailable(_)
    ));
}
