//! The fake GitHub against the service's own GitHub adapters: what the sync tests rely on.

use std::time::Duration;

use study_mode_api::adapters::lessons_github::catalog::{CatalogSettings, GithubCatalog};
use study_mode_api::adapters::lessons_github::{GithubLessonSource, GithubSettings};
use study_mode_api::domain::lesson::LessonPath;
use study_mode_api::domain::ports::{Conditional, LessonCatalog, LessonSource, LessonSourceError};

use super::{BRANCH, FakeGithub, PREFIX, REPO};

fn source(fake: &FakeGithub) -> GithubLessonSource {
    GithubLessonSource::new(GithubSettings {
        raw_base_url: fake.base_url(),
        repo: REPO.into(),
        branch: BRANCH.into(),
        docs_prefix: PREFIX.into(),
        token: None,
    })
    .expect("source")
}

fn catalog(fake: &FakeGithub) -> GithubCatalog {
    GithubCatalog::new(
        CatalogSettings {
            api_base_url: fake.api_base_url(),
            repo: REPO.into(),
            branch: BRANCH.into(),
            docs_prefix: PREFIX.into(),
            token: None,
        },
        Duration::from_secs(5),
    )
    .expect("catalog")
}

fn lesson(path: &str) -> LessonPath {
    LessonPath::parse(path).expect("path")
}

#[tokio::test]
async fn fake_github_answers_a_matching_etag_with_304_and_counts_only_full_downloads() {
    let fake = FakeGithub::start().await;
    fake.put("01-A/01-one.md", "# One\n");
    let source = source(&fake);

    let first = source
        .fetch_if_changed(&lesson("01-A/01-one"), None)
        .await
        .expect("first");
    let Conditional::Modified {
        etag: Some(etag), ..
    } = first
    else {
        panic!("expected a download with an ETag, got {first:?}");
    };
    assert_eq!(Some(etag.clone()), fake.etag("01-A/01-one.md"));
    let again = source
        .fetch_if_changed(&lesson("01-A/01-one"), Some(etag.clone()))
        .await;
    fake.put("01-A/01-one.md", "# One, edited\n");
    let changed = source
        .fetch_if_changed(&lesson("01-A/01-one"), Some(etag))
        .await;

    assert_eq!(again.expect("again"), Conditional::NotModified);
    assert!(
        matches!(changed, Ok(Conditional::Modified { lesson, .. }) if lesson.markdown == "# One, edited\n")
    );
    assert_eq!(fake.downloads("01-A/01-one.md"), 2);
    assert_eq!(fake.hits("01-A/01-one.md"), 3);
    assert_eq!(fake.total_downloads(), 2);
}

#[tokio::test]
async fn fake_github_lists_its_files_in_the_tree_with_a_sha_that_follows_each_change() {
    let fake = FakeGithub::start().await;
    fake.put("01-A/01-one.md", "# One\n");
    fake.put("01-A/02-two.mdx", "# Two\n");
    fake.put("01-A/pic.png", "png");
    let catalog = catalog(&fake);

    let listed = catalog.list().await.expect("listed");
    let before = listed[0].version.clone();
    let sha_before = fake.blob_sha("01-A/01-one.md");
    fake.put("01-A/01-one.md", "# One, edited\n");
    assert!(fake.remove("01-A/02-two.mdx"));
    fake.put("02-B/01-three.md", "# Three\n");
    let relisted = catalog.list().await.expect("relisted");

    let paths = |entries: &[study_mode_api::domain::ports::CatalogEntry]| {
        entries
            .iter()
            .map(|e| e.path.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&listed), ["01-A/01-one", "01-A/02-two"]);
    assert_eq!(Some(before.clone()), sha_before);
    assert_eq!(paths(&relisted), ["01-A/01-one", "02-B/01-three"]);
    assert_ne!(relisted[0].version, before);
    assert_eq!(
        Some(relisted[0].version.clone()),
        fake.blob_sha("01-A/01-one.md")
    );
    assert_eq!(fake.tree_hits(), 2);
}

#[tokio::test]
async fn fake_github_fails_a_path_n_times_or_for_good_and_the_tree_too() {
    let fake = FakeGithub::start().await;
    fake.put("a/once.md", "# Once\n");
    fake.put("a/always.md", "# Always\n");
    fake.fail_file("a/once.md", Some(1));
    fake.fail_file("a/always.md", None);
    fake.fail_tree(Some(1));
    fake.truncate_tree(true);
    let source = source(&fake);
    let catalog = catalog(&fake);

    let once = [
        source.fetch(&lesson("a/once")).await.map(|l| l.markdown),
        source.fetch(&lesson("a/once")).await.map(|l| l.markdown),
    ];
    let always = source.fetch(&lesson("a/always")).await;
    let tree = [catalog.list().await.is_ok(), catalog.list().await.is_ok()];
    fake.heal("a/always.md");
    let healed = source.fetch(&lesson("a/always")).await;

    assert!(matches!(&once[0], Err(LessonSourceError::Unavailable(_))));
    assert_eq!(once[1].as_deref().ok(), Some("# Once\n"));
    assert!(matches!(always, Err(LessonSourceError::Unavailable(_))));
    assert_eq!(tree, [false, true], "truncated trees are still listed");
    assert!(healed.is_ok());
}
