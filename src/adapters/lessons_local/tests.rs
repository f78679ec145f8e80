//! Unit tests of the local-folder lesson source, against a temporary folder.

use std::fs;

use super::*;

fn write(dir: &Path, relative: &str, text: &str) {
    let file = dir.join(relative);
    if let Some(parent) = file.parent() {
        fs::create_dir_all(parent).expect("create folders");
    }
    fs::write(file, text).expect("write lesson");
}

async fn fetch(dir: &Path, path: &str) -> Result<RawLesson, LessonSourceError> {
    let path = LessonPath::parse(path).expect("valid path");
    LocalLessonSource::new(dir).fetch(&path).await
}

#[tokio::test]
async fn fetch_reads_the_md_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "01-part/01-intro.md", "# Intro");
    let lesson = fetch(dir.path(), "01-part/01-intro").await.expect("found");
    assert_eq!(lesson.markdown, "# Intro");
    assert_eq!(lesson.path.as_str(), "01-part/01-intro");
}

#[tokio::test]
async fn fetch_tries_the_forms_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a/both.md", "md");
    write(dir.path(), "a/both.mdx", "mdx");
    write(dir.path(), "a/only-mdx.mdx", "mdx");
    write(dir.path(), "a/folder/index.md", "index");
    write(dir.path(), "a/folder/README.md", "readme");
    write(dir.path(), "a/readme-only/README.md", "readme");
    let cases = [
        ("a/both", "md"),
        ("a/only-mdx", "mdx"),
        ("a/folder", "index"),
        ("a/readme-only", "readme"),
    ];
    for (path, want) in cases {
        let lesson = fetch(dir.path(), path).await.expect("found");
        assert_eq!(lesson.markdown, want, "for {path}");
    }
}

#[tokio::test]
async fn fetch_returns_not_found_when_no_form_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a/other.md", "x");
    fs::create_dir_all(dir.path().join("a/empty-folder")).expect("folder");
    for path in [
        "a/missing",
        "a/empty-folder",
        "a/other.md/deeper",
        "missing/deep/path",
    ] {
        let result = fetch(dir.path(), path).await;
        assert!(
            matches!(result, Err(LessonSourceError::NotFound)),
            "for {path}"
        );
    }
}

#[tokio::test]
async fn fetch_returns_not_found_for_a_name_too_long_for_the_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let result = fetch(dir.path(), &"x".repeat(300)).await;
    assert!(matches!(result, Err(LessonSourceError::NotFound)));
}

#[tokio::test]
async fn fetch_refuses_unchecked_paths_that_leave_the_folder() {
    let root = tempfile::tempdir().expect("tempdir");
    write(root.path(), "secret.md", "secret");
    let docs = root.path().join("docs");
    fs::create_dir_all(&docs).expect("folder");
    let source = LocalLessonSource::new(&docs);
    let absolute = root.path().join("secret").display().to_string();
    for raw in ["../secret", "./../secret", absolute.as_str(), ""] {
        let result = source.fetch(&LessonPath::new_unchecked(raw)).await;
        assert!(
            matches!(result, Err(LessonSourceError::NotFound)),
            "for {raw}"
        );
    }
}

#[tokio::test]
async fn fetch_reports_an_unreadable_file_as_unavailable_without_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A symlink loop fails with an error that is neither "not found" nor a wrong file type.
    std::os::unix::fs::symlink("loop.md", dir.path().join("loop.md")).expect("symlink");
    let result = fetch(dir.path(), "loop").await;
    match result {
        Err(LessonSourceError::Unavailable(message)) => {
            let root = dir.path().display().to_string();
            assert!(
                !message.contains(&root),
                "message leaks the path: {message}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_replaces_invalid_utf8_instead_of_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("bytes.md"), b"ok \xff end").expect("write");
    let lesson = fetch(dir.path(), "bytes").await.expect("found");
    assert_eq!(lesson.markdown, "ok \u{fffd} end");
}

#[tokio::test]
async fn the_catalog_lists_every_lesson_of_the_folder_once_and_nothing_else() {
    use crate::domain::ports::LessonCatalog;
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str| {
        let file = dir.path().join(rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "# T\n").unwrap();
    };
    for rel in [
        "01-A/01-one.md",
        "01-A/02-two.mdx",
        "01-A/index.md",
        "01-A/_partial.md",
        "01-A/img/pic.png",
        "02-B/README.md",
        ".git/x.md",
    ] {
        write(rel);
    }
    let listed = LocalLessonSource::new(dir.path()).list().await.unwrap();
    let paths: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["01-A", "01-A/01-one", "01-A/02-two", "02-B"]);
    assert!(listed.iter().all(|e| !e.version.is_empty()));
    let missing = LocalLessonSource::new(dir.path().join("nope")).list().await;
    assert!(matches!(missing, Err(LessonSourceError::Unavailable(_))));
}
