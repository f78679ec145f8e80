//! Unit tests of webhook signatures and of mapping pushed files to lessons.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;

const HOOK: &str = "webhook-secret-0123456789";
const PREFIX: &str = "apps/learn-app/docs";

fn path(p: &str) -> Option<LessonPath> {
    Some(LessonPath::new_unchecked(p))
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn push_event(value: Value) -> PushEventIn {
    serde_json::from_value(value).unwrap()
}

#[test]
fn signature_valid_accepts_githubs_documented_example() {
    let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    assert!(signature_valid(
        b"It's a Secret to Everybody",
        b"Hello, World!",
        Some(header)
    ));
}

#[test]
fn signature_valid_refuses_missing_malformed_and_wrong_signatures() {
    let good = sign(HOOK, b"body");

    assert!(signature_valid(HOOK.as_bytes(), b"body", Some(&good)));
    assert!(!signature_valid(HOOK.as_bytes(), b"body", None));
    assert!(!signature_valid(HOOK.as_bytes(), b"body!", Some(&good)));
    assert!(!signature_valid(
        b"another-secret-0000",
        b"body",
        Some(&good)
    ));
    assert!(!signature_valid(HOOK.as_bytes(), b"body", Some(&good[7..])));
    assert!(!signature_valid(
        HOOK.as_bytes(),
        b"body",
        Some("sha256=zz")
    ));
    assert!(!signature_valid(
        HOOK.as_bytes(),
        b"body",
        Some(&good[..40])
    ));
}

#[test]
fn lesson_of_file_strips_the_prefix_the_extension_and_folder_pages() {
    assert_eq!(
        lesson_of_file("apps/learn-app/docs/01-A/02-b.md", PREFIX),
        path("01-A/02-b")
    );
    assert_eq!(
        lesson_of_file("apps/learn-app/docs/01-A/02-b.mdx", PREFIX),
        path("01-A/02-b")
    );
    assert_eq!(
        lesson_of_file("apps/learn-app/docs/01-A/index.md", PREFIX),
        path("01-A")
    );
    assert_eq!(
        lesson_of_file("apps/learn-app/docs/01-A/README.md", PREFIX),
        path("01-A")
    );
}

#[test]
fn lesson_of_file_skips_files_that_are_no_lesson() {
    for file in [
        "README.md",
        "apps/learn-app/src/page.mdx",
        "apps/learn-app/docs/01-A/_category_.json",
        "apps/learn-app/docs/01-A/image.png",
        "apps/learn-app/docs/index.md",
        "apps/learn-app/docsextra/01-A.md",
        "apps/learn-app/docs/01 A/bad name.md",
    ] {
        assert_eq!(lesson_of_file(file, PREFIX), None, "{file}");
    }
}

#[test]
fn touched_lessons_collects_every_commit_once_in_order() {
    let event = push_event(json!({
        "ref": "refs/heads/main",
        "commits": [
            {"added": ["apps/learn-app/docs/01-A/01-x.md"], "modified": ["apps/learn-app/docs/01-A/02-y.mdx"], "removed": []},
            {"added": [], "modified": ["apps/learn-app/docs/01-A/01-x.md", "package.json"], "removed": ["apps/learn-app/docs/01-A/03-z.md"]}
        ],
        "head_commit": {"modified": ["apps/learn-app/docs/01-A/01-x.md"]}
    }));

    let lessons = touched_lessons(&event, PREFIX);

    assert_eq!(
        lessons,
        [
            LessonPath::new_unchecked("01-A/01-x"),
            LessonPath::new_unchecked("01-A/02-y"),
            LessonPath::new_unchecked("01-A/03-z"),
        ]
    );
}

#[test]
fn targets_needs_the_configured_repository_and_branch() {
    let event = |repo: &str, git_ref: &str| {
        push_event(json!({"ref": git_ref, "repository": {"full_name": repo}}))
    };

    assert!(targets(
        &event("Panaversity/AgentFactory", "refs/heads/main"),
        "panaversity/agentfactory",
        "main"
    ));
    assert!(!targets(
        &event("someone/fork", "refs/heads/main"),
        "panaversity/agentfactory",
        "main"
    ));
    assert!(!targets(
        &event("panaversity/agentfactory", "refs/heads/dev"),
        "panaversity/agentfactory",
        "main"
    ));
    assert!(!targets(
        &event("panaversity/agentfactory", "refs/tags/main"),
        "panaversity/agentfactory",
        "main"
    ));
    assert!(!targets(
        &push_event(json!({"ref": "refs/heads/main"})),
        "panaversity/agentfactory",
        "main"
    ));
}

#[test]
fn delivery_ids_are_logged_only_when_short_and_plain() {
    let guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    assert_eq!(delivery_id(Some(guid)), guid);
    assert_eq!(delivery_id(None), "-");
    for hostile in ["", "a b", "id\u{7f}", "x;DROP", &"a".repeat(65)] {
        assert_eq!(delivery_id(Some(hostile)), "invalid", "{hostile:?}");
    }
}
