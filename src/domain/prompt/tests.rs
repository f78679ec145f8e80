use chrono::{DateTime, Utc};

use super::*;
use crate::domain::thread::{InferenceOptions, UserContent};
use crate::domain::tutor::StudyMode;

fn item(n: usize, kind: ItemKind) -> ThreadItem {
    ThreadItem {
        id: format!("msg_{n:032x}"),
        thread_id: "thr_1".to_string(),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        kind,
    }
}

fn user(n: usize, text: &str) -> ThreadItem {
    user_item(n, text, false)
}

fn user_item(n: usize, text: &str, hidden: bool) -> ThreadItem {
    item(
        n,
        ItemKind::UserMessage {
            content: vec![UserContent::InputText {
                text: text.to_string(),
            }],
            quoted_text: None,
            inference_options: InferenceOptions::default(),
            hidden,
        },
    )
}

fn tutor(n: usize, text: &str) -> ThreadItem {
    item(
        n,
        ItemKind::AssistantMessage {
            text: text.to_string(),
            interrupted: false,
            citations: Vec::new(),
        },
    )
}

fn ctx(action: TeachAction) -> TutorContext {
    TutorContext {
        mode: StudyMode::Teach,
        lesson_title: "Closures".to_string(),
        chunk_titles: vec!["Capturing".into(), "Moving".into(), "Fn traits".into()],
        chunk_index: 1,
        chunk_text: "A `move` closure takes ownership of what it captures.".to_string(),
        action: Some(action),
        student_message: "B".to_string(),
        ..TutorContext::default()
    }
}

fn system(prompt: &Prompt) -> &str {
    &prompt.messages[0].content
}

fn bodies(prompt: &Prompt) -> Vec<&str> {
    prompt.messages.iter().map(|m| m.content.as_str()).collect()
}

const ASKING: [TeachAction; 4] = [
    TeachAction::Introduce { chunk: 1 },
    TeachAction::Teach { chunk: 1 },
    TeachAction::Reexplain { chunk: 1 },
    TeachAction::Reask { chunk: 1 },
];
const NOT_ASKING: [TeachAction; 3] = [
    TeachAction::Hint { chunk: 1 },
    TeachAction::Respond { chunk: 1 },
    TeachAction::Complete,
];

#[test]
fn teach_prompt_is_system_then_history_then_the_students_message() {
    let c = ctx(TeachAction::Teach { chunk: 1 });
    let history = [tutor(1, "Question?"), user(2, "A"), tutor(3, "Not quite.")];
    let prompt = teach_prompt(&c, &history, 10_000, 700);
    let roles: Vec<Role> = prompt.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User
        ]
    );
    assert_eq!(bodies(&prompt)[1..], ["Question?", "A", "Not quite.", "B"]);
    assert_eq!(prompt.max_tokens, 700);
    assert_eq!(prompt.context, c);
}

#[test]
fn teach_history_budget_keeps_the_newest_items_that_fit() {
    let history = [
        user(1, "aaaaaaaaaa"),
        tutor(2, "bbbbbbbbbb"),
        user(3, "cccccccccc"),
        tutor(4, "dddddddddd"),
    ];
    let prompt = teach_prompt(&ctx(TeachAction::Teach { chunk: 1 }), &history, 25, 500);
    assert_eq!(bodies(&prompt)[1..], ["cccccccccc", "dddddddddd", "B"]);
}

#[test]
fn teach_history_budget_of_zero_keeps_no_history() {
    let history = [user(1, "hello"), tutor(2, "hi")];
    let prompt = teach_prompt(&ctx(TeachAction::Teach { chunk: 1 }), &history, 0, 500);
    assert_eq!(prompt.messages.len(), 2);
}

#[test]
fn hidden_items_are_excluded_from_the_history() {
    let history = [
        user_item(1, "\u{200B}", true),
        tutor(2, "Welcome!"),
        item(
            3,
            ItemKind::HiddenContext {
                content: serde_json::json!("the student cancelled"),
            },
        ),
        user(4, "why?"),
    ];
    for prompt in [
        teach_prompt(
            &ctx(TeachAction::Respond { chunk: 1 }),
            &history,
            10_000,
            500,
        ),
        ask_prompt(
            &ctx(TeachAction::Respond { chunk: 1 }),
            &history,
            100_000,
            500,
        ),
    ] {
        assert_eq!(bodies(&prompt)[1..], ["Welcome!", "why?", "B"]);
    }
}

#[test]
fn the_message_being_answered_is_not_sent_twice() {
    let history = [tutor(1, "Question?"), user(2, "B")];
    let prompt = teach_prompt(&ctx(TeachAction::Teach { chunk: 1 }), &history, 10_000, 500);
    assert_eq!(bodies(&prompt)[1..], ["Question?", "B"]);
}

#[test]
fn ask_prompt_keeps_the_last_30_items() {
    let history: Vec<ThreadItem> = (0..40)
        .map(|n| {
            if n % 2 == 0 {
                user(n, &format!("q{n}"))
            } else {
                tutor(n, &format!("r{n}"))
            }
        })
        .collect();
    let mut c = ctx(TeachAction::Respond { chunk: 0 });
    c.mode = StudyMode::Ask;
    c.student_message = "what is a closure?".to_string();
    let prompt = ask_prompt(&c, &history, 100_000, 300);
    assert_eq!(prompt.messages.len(), 1 + 30 + 1);
    assert_eq!(prompt.messages[1].content, "q10");
    assert_eq!(prompt.messages[30].content, "r39");
    assert_eq!(prompt.messages[31].content, "what is a closure?");
    assert_eq!(prompt.max_tokens, 300);
    assert_eq!(prompt.context, c);
}

#[test]
fn the_marker_instruction_appears_only_for_question_asking_actions() {
    for action in ASKING {
        let prompt = teach_prompt(&ctx(action), &[], 1_000, 500);
        assert!(system(&prompt).contains("[[CORRECT:X]]"), "{action:?}");
        assert!(system(&prompt).contains("`A)` and `B)`"), "{action:?}");
    }
    for action in NOT_ASKING {
        let prompt = teach_prompt(&ctx(action), &[], 1_000, 500);
        assert!(
            !system(&prompt).to_lowercase().contains("[[correct"),
            "{action:?}"
        );
    }
    assert!(
        !system(&ask_prompt(&ctx(TeachAction::Complete), &[], 100_000, 500)).contains("[[CORRECT")
    );
}

#[test]
fn the_chunk_text_and_its_position_are_embedded() {
    for action in ASKING.into_iter().chain([
        TeachAction::Hint { chunk: 1 },
        TeachAction::Respond { chunk: 1 },
    ]) {
        let prompt = teach_prompt(&ctx(action), &[], 1_000, 500);
        assert!(
            system(&prompt).contains("A `move` closure takes ownership"),
            "{action:?}"
        );
        assert!(system(&prompt).contains("2/3 \"Moving\""), "{action:?}");
        assert!(system(&prompt).contains("\"Closures\""), "{action:?}");
    }
}

#[test]
fn introduce_greets_the_student_by_name_and_starts_on_auto_start() {
    let mut c = ctx(TeachAction::Introduce { chunk: 0 });
    c.student_name = Some("Ada".to_string());
    c.student_message = "\u{200B}".to_string();
    let prompt = teach_prompt(&c, &[], 1_000, 500);
    assert!(system(&prompt).contains("Greet the student by name"));
    assert!(
        !system(&prompt).contains("Ada"),
        "the name stays out of the system message"
    );
    let fields = &prompt.messages[prompt.messages.len() - 2];
    assert_eq!(fields.role, Role::User);
    assert!(fields.content.contains("<student_name>Ada</student_name>"));
    assert_eq!(
        prompt.messages.last().map(|m| m.content.as_str()),
        Some("Start the lesson.")
    );
}

#[test]
fn teach_after_a_reveal_names_the_right_option() {
    let mut c = ctx(TeachAction::Teach { chunk: 1 });
    c.verdict = Some(Verdict::Revealed { correct: Choice::B });
    assert!(system(&teach_prompt(&c, &[], 1_000, 500)).contains("right answer was option B"));
    c.verdict = Some(Verdict::Skipped {
        correct: Some(Choice::A),
    });
    assert!(system(&teach_prompt(&c, &[], 1_000, 500)).contains("right answer was option A"));
    c.verdict = Some(Verdict::Correct);
    assert!(system(&teach_prompt(&c, &[], 1_000, 500)).contains("\"Correct!\""));
}

#[test]
fn reexplain_asks_a_new_question_without_revealing_the_answer() {
    let mut c = ctx(TeachAction::Reexplain { chunk: 1 });
    c.verdict = Some(Verdict::Wrong { attempts_left: 2 });
    let prompt = teach_prompt(&c, &[], 1_000, 500);
    assert!(system(&prompt).contains("without revealing"));
    assert!(system(&prompt).contains("NEW question"));
    assert!(system(&prompt).contains("2 attempt(s) left"));
}

#[test]
fn complete_summarises_every_chunk_title_and_asks_nothing() {
    let mut c = ctx(TeachAction::Complete);
    c.student_message = String::new();
    let prompt = teach_prompt(&c, &[], 1_000, 500);
    for title in ["- Capturing", "- Moving", "- Fn traits"] {
        assert!(system(&prompt).contains(title), "{title}");
    }
    assert!(system(&prompt).contains("Do not ask a question"));
    assert_eq!(
        prompt.messages.last().map(|m| m.content.as_str()),
        Some("Continue the lesson.")
    );
}

#[test]
fn complete_suggests_the_next_lesson_when_there_is_one() {
    let mut c = ctx(TeachAction::Complete);
    let without = teach_prompt(&c, &[], 1_000, 500);
    c.next_lesson = Some(crate::domain::tutor::NextLesson {
        title: "Iterators".to_string(),
        path: "02-Rust/03-iterators".to_string(),
    });
    let with = teach_prompt(&c, &[], 1_000, 500);
    assert!(!system(&without).contains("next lesson"));
    assert!(
        system(&with).contains(
            "Then suggest the next lesson of the book, \"Iterators\" (02-Rust/03-iterators)"
        ),
        "{}",
        system(&with)
    );
    assert!(system(&with).contains("Do not ask a question"));
    c.action = Some(TeachAction::Teach { chunk: 1 });
    assert!(
        !system(&teach_prompt(&c, &[], 1_000, 500)).contains("Iterators"),
        "only once the lesson is finished"
    );
}

fn source(number: u32, lesson: &str, text: &str) -> crate::domain::tutor::SourcePassage {
    crate::domain::tutor::SourcePassage {
        number,
        path: format!("book/{lesson}"),
        lesson_title: lesson.to_string(),
        section_index: 0,
        section_title: "Closures".to_string(),
        text: text.to_string(),
    }
}

#[test]
fn ask_prompt_grounds_the_answer_in_numbered_sources_and_the_highlight() {
    let mut c = ctx(TeachAction::Respond { chunk: 0 });
    c.mode = StudyMode::Ask;
    c.selected_text = Some("takes ownership".to_string());
    c.sources = vec![
        source(
            1,
            "Ownership",
            "A `move` closure takes ownership of what it uses.",
        ),
        source(2, "Borrowing <rules>", "A borrow never outlives its owner."),
    ];
    let prompt = ask_prompt(&c, &[], 100_000, 300);
    let sys = system(&prompt);
    assert!(sys.contains("1-3 sentences"));
    assert!(sys.contains("**bold**"));
    assert!(sys.contains("Do not ask a follow-up question"));
    assert!(sys.contains("like [1] or [1, 3]"));
    assert!(sys.contains(
        "<source number=\"1\" lesson=\"Ownership\" section=\"Closures\">\nA `move` closure takes ownership"
    ));
    assert!(
        sys.contains("lesson=\"Borrowing &lt;rules&gt;\""),
        "book text cannot open or close a field"
    );
    assert!(
        !sys.contains("<highlighted_text>\n"),
        "student text stays out of the system"
    );
    let fields = &prompt.messages[prompt.messages.len() - 2];
    assert_eq!(fields.role, Role::User);
    assert!(
        fields
            .content
            .contains("<highlighted_text>\ntakes ownership\n</highlighted_text>")
    );
}

#[test]
fn ask_prompt_without_sources_says_the_book_does_not_cover_it() {
    let mut c = ctx(TeachAction::Respond { chunk: 0 });
    c.mode = StudyMode::Ask;
    let prompt = ask_prompt(&c, &[], 100_000, 300);
    let sys = system(&prompt);
    assert!(sys.contains("No passage of the book matches this question"));
    assert!(sys.contains("Do not answer from general knowledge"));
    assert!(!sys.contains("<source"));
}

#[test]
fn ask_prompt_without_a_highlight_has_no_highlight_section() {
    let prompt = ask_prompt(&ctx(TeachAction::Respond { chunk: 0 }), &[], 100_000, 300);
    assert!(!system(&prompt).contains("highlighted"));
}

mod student_fields;
