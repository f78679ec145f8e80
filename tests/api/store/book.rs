//! The book sync's stores on the SQL adapters: `BookStore` (lessons, sections, full-text
//! search) and `SyncRunStore` (runs and their lessons, in `book/sync_runs.rs`), each test on a
//! fresh database of each engine.

mod search;
mod sync_runs;

use study_mode_api::adapters::sql::Engine;
use study_mode_api::adapters::sql::book::SqlBookStore;
use study_mode_api::domain::book::analyze;
use study_mode_api::domain::lesson::LessonPath;
use study_mode_api::domain::ports::{BookStore, IndexedSection, LessonStamp, SyncedLesson};

use super::{Fixture, at};

sql_contract!(
    put_then_stamp_then_remove_round_trips,
    put_is_idempotent_and_replaces_sections,
    paths_and_analyses_are_sorted_by_path,
    search_finds_a_section_by_a_word_in_its_body,
    search_ignores_query_syntax_and_clamps_its_limit,
);

/// The book store on the fixture's database.
fn books(fx: &Fixture) -> SqlBookStore {
    SqlBookStore::new(fx.db.clone())
}

fn path(raw: &str) -> LessonPath {
    LessonPath::parse(raw).expect("valid path")
}

fn section(index: u32, title: &str, text: &str) -> IndexedSection {
    IndexedSection {
        index,
        title: title.to_owned(),
        text: text.to_owned(),
        vector: None,
    }
}

/// A lesson at `raw` synced at `at(offset)`, with `sections`.
fn lesson(raw: &str, offset: i64, sections: Vec<IndexedSection>) -> SyncedLesson {
    let p = path(raw);
    let markdown = format!("# Lesson {raw}\n\nSome text about {raw}.\n");
    SyncedLesson {
        stamp: LessonStamp {
            version: Some(format!("sha-{offset}")),
            etag: Some(format!("\"etag-{offset}\"")),
            content_hash: format!("{offset:064x}"),
            synced_at: at(offset),
        },
        analysis: analyze(&p, &markdown),
        sections,
    }
}

/// How many rows of `table` belong to lesson `raw` (the FTS table counts on SQLite only).
async fn rows_of(fx: &Fixture, table: &str, raw: &str) -> i64 {
    fx.scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE path = '{raw}'"
    ))
    .await
}

async fn put_then_stamp_then_remove_round_trips(fx: &Fixture) {
    // Arrange
    let store = books(fx);
    let mut one = lesson("part-1/intro", 3, vec![section(0, "Intro", "hello")]);
    one.sections[0].vector = Some(vec![0.25, -1.0, 3.5]);
    let mut bare = lesson("part-1/bare", 4, Vec::new());
    bare.stamp.version = None;
    bare.stamp.etag = None;

    // Act
    for l in [&one, &bare] {
        store.put(l).await.expect("lesson is stored");
    }

    // Assert
    for l in [&one, &bare] {
        let stamp = store.stamp(&l.analysis.path).await.expect("stamp loads");
        assert_eq!(
            stamp.as_ref(),
            Some(&l.stamp),
            "every stamp field round-trips"
        );
    }
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM book_sections WHERE vector IS NOT NULL")
            .await,
        1
    );
    assert_eq!(store.stamp(&path("part-9/none")).await.expect("runs"), None);
    let gone = [
        path("part-1/intro"),
        path("part-1/bare"),
        path("part-9/none"),
    ];
    assert_eq!(store.remove(&gone).await.expect("removed"), 2);
    assert_eq!(store.remove(&gone).await.expect("idempotent"), 0);
    assert_eq!(store.remove(&[]).await.expect("nothing to do"), 0);
    assert_eq!(store.stamp(&one.analysis.path).await.expect("runs"), None);
    assert!(store.paths().await.expect("lists").is_empty());
    assert_eq!(rows_of(fx, "book_sections", "part-1/intro").await, 0);
    if fx.db.engine() == Engine::Sqlite {
        assert_eq!(rows_of(fx, "book_sections_fts", "part-1/intro").await, 0);
    }
    assert!(
        store
            .search("hello", 10)
            .await
            .expect("searches")
            .is_empty()
    );
}

async fn put_is_idempotent_and_replaces_sections(fx: &Fixture) {
    // Arrange
    let store = books(fx);
    let first = lesson(
        "part-2/ownership",
        0,
        vec![
            section(0, "Moves", "a value has one owner"),
            section(1, "Borrowing", "references borrow without owning"),
            section(2, "Lifetimes", "zebra crossings outlive nothing"),
        ],
    );
    let second = lesson(
        "part-2/ownership",
        9,
        vec![section(0, "Moves", "a value has exactly one owner")],
    );

    // Act
    store.put(&first).await.expect("first put");
    store.put(&first).await.expect("same put again");
    assert_eq!(rows_of(fx, "book_sections", "part-2/ownership").await, 3);
    store.put(&second).await.expect("replaced");

    // Assert
    assert_eq!(
        store.stamp(&second.analysis.path).await.expect("loads"),
        Some(second.stamp.clone())
    );
    assert_eq!(rows_of(fx, "book_sections", "part-2/ownership").await, 1);
    if fx.db.engine() == Engine::Sqlite {
        assert_eq!(
            rows_of(fx, "book_sections_fts", "part-2/ownership").await,
            1
        );
    }
    assert!(
        store
            .search("zebra", 10)
            .await
            .expect("searches")
            .is_empty(),
        "a replaced section is no longer found"
    );
    let hits = store.search("exactly", 10).await.expect("searches");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        store.paths().await.expect("lists"),
        [path("part-2/ownership")]
    );
}

async fn paths_and_analyses_are_sorted_by_path(fx: &Fixture) {
    let store = books(fx);
    assert!(store.analyses().await.expect("empty book").is_empty());
    let names = ["part-2/b", "part-1/z", "part-10/a", "part-1/a"];
    for (i, raw) in names.into_iter().enumerate() {
        let offset = i64::try_from(i).expect("small");
        store
            .put(&lesson(raw, offset, Vec::new()))
            .await
            .expect("put");
    }

    let mut sorted = names.map(path).to_vec();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(store.paths().await.expect("lists"), sorted);
    let analyses = store.analyses().await.expect("loads");
    let expected: Vec<_> = sorted
        .iter()
        .map(|p| lesson(p.as_str(), 0, Vec::new()).analysis)
        .collect();
    assert_eq!(analyses, expected, "every analysis round-trips, by path");
}

async fn search_finds_a_section_by_a_word_in_its_body(fx: &Fixture) {
    // Arrange
    let store = books(fx);
    let traits = lesson(
        "part-3/traits",
        0,
        vec![
            section(0, "Traits", "a trait names shared behaviour"),
            section(1, "Generics", "monomorphization copies code per type"),
        ],
    );
    let closures = lesson(
        "part-3/closures",
        1,
        vec![section(0, "Closures", "a closure captures its environment")],
    );
    store.put(&traits).await.expect("put");
    store.put(&closures).await.expect("put");

    // Act
    let hits = store
        .search("Monomorphization", 10)
        .await
        .expect("searches");
    let both = store
        .search("environment captures", 10)
        .await
        .expect("searches");
    let one_missing = store
        .search("environment zebra", 10)
        .await
        .expect("searches");
    let none = store.search("zebra giraffe", 10).await.expect("searches");

    // Assert
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].path, path("part-3/traits"));
    assert_eq!(hits[0].index, 1);
    assert_eq!(hits[0].title, "Generics");
    assert!(hits[0].score > 0.0, "{hits:?}");
    assert_eq!(both.len(), 1, "{both:?}");
    assert_eq!(
        (both[0].path.as_str(), both[0].index),
        ("part-3/closures", 0)
    );
    assert_eq!(one_missing.len(), 1, "any word may match: {one_missing:?}");
    assert_eq!(one_missing[0].path, path("part-3/closures"));
    assert!(none.is_empty(), "{none:?}");
}

async fn search_ignores_query_syntax_and_clamps_its_limit(fx: &Fixture) {
    let store = books(fx);
    let sections = (0..3)
        .map(|i| section(i, "Ownership", "ownership rules the heap"))
        .collect();
    store
        .put(&lesson("part-4/heap", 0, sections))
        .await
        .expect("put");

    for query in [
        "\"",
        "*",
        "OR",
        ":",
        "-",
        "\"ownership",
        "ownership*",
        "title:ownership",
        "-ownership",
        "ownership OR",
        "NEAR(ownership heap)",
        "ownership & | ! ( ) ' ^ {}",
        "",
        "   ",
    ] {
        let result = store.search(query, 10).await;
        assert!(result.is_ok(), "{query:?}: {result:?}");
    }
    let hits = store.search("\"ownership*", 10).await.expect("searches");
    assert_eq!(hits.len(), 3, "the word is found without its syntax");
    assert_eq!(
        store.search("ownership", 0).await.expect("clamped").len(),
        1
    );
    assert_eq!(
        store.search("ownership", 2).await.expect("bounded").len(),
        2
    );
}
