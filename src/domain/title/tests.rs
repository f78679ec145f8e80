use super::*;

#[test]
fn is_auto_start_accepts_a_lone_zero_width_space() {
    assert!(is_auto_start("\u{200B}"));
}

#[test]
fn is_auto_start_accepts_zero_width_spaces_surrounded_by_whitespace() {
    assert!(is_auto_start(" \n\u{200B}\u{200B}\t "));
}

#[test]
fn is_auto_start_rejects_empty_and_whitespace_only_text() {
    assert!(!is_auto_start(""));
    assert!(!is_auto_start("   \n"));
}

#[test]
fn is_auto_start_rejects_a_real_message_containing_a_zero_width_space() {
    assert!(!is_auto_start("\u{200B}hello"));
}

#[test]
fn title_from_message_keeps_the_first_six_words() {
    assert_eq!(
        title_from_message("What is a closure in Rust and why does it matter").as_deref(),
        Some("What is a closure in Rust")
    );
}

#[test]
fn title_from_message_collapses_whitespace_between_words() {
    assert_eq!(
        title_from_message("  hello \n\t world  ").as_deref(),
        Some("hello world")
    );
}

#[test]
fn title_from_message_is_none_for_empty_whitespace_or_auto_start_text() {
    assert_eq!(title_from_message(""), None);
    assert_eq!(title_from_message(" \n "), None);
    assert_eq!(title_from_message("\u{200B}"), None);
    assert_eq!(title_from_message(" \u{200B} \u{200B}"), None);
}

#[test]
fn title_from_message_ignores_zero_width_spaces_inside_words() {
    assert_eq!(
        title_from_message("\u{200B}hel\u{200B}lo").as_deref(),
        Some("hello")
    );
}

#[test]
fn title_from_message_cuts_long_words_at_120_characters_on_a_char_boundary() {
    let long = "é".repeat(300);
    let title = title_from_message(&long).unwrap_or_default();
    assert_eq!(title.chars().count(), 120);
    assert!(title.chars().all(|c| c == 'é'));
}

#[test]
fn title_from_message_keeps_short_multibyte_messages_whole() {
    assert_eq!(
        title_from_message("Qu'est-ce qu'une fermeture ? 🦀").as_deref(),
        Some("Qu'est-ce qu'une fermeture ? 🦀")
    );
}

#[test]
fn lesson_thread_title_prefixes_the_books_emoji() {
    assert_eq!(lesson_thread_title("Closures"), "📚 Closures");
}
