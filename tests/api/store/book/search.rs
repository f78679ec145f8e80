//! Search reads of `BookStore` on the SQL adapter: ranking for a natural question (any word
//! may match), the section text and lesson title of a hit, the stored vectors, sections by key
//! and the index's version.

use study_mode_api::domain::ports::{BookStore, SectionVector};

use super::super::Fixture;
use super::{books, lesson, path, section};

sql_contract!(
    a_natural_question_ranks_the_answering_passage_first,
    vectors_sections_by_key_and_the_version_follow_the_index,
);

/// Two lessons about agents and models.
async fn small_book(fx: &Fixture) -> study_mode_api::adapters::sql::book::SqlBookStore {
    let store = books(fx);
    let mut agents = lesson(
        "part-1/agents",
        0,
        vec![
            section(
                0,
                "What is an agent",
                "An agent is a program that uses a model to pursue a goal.",
            ),
            section(
                1,
                "The agent loop",
                "The agent loop observes the environment, decides on the next step and acts, \
                 repeating until the goal is met.",
            ),
            section(
                2,
                "Tools",
                "Tools let it act on the world: search, code execution, file edits.",
            ),
        ],
    );
    agents.sections[0].vector = Some(vec![1.0, 0.0]);
    agents.sections[1].vector = Some(vec![0.0, 1.0]);
    let models = lesson(
        "part-1/models",
        1,
        vec![
            section(
                0,
                "Models",
                "A language model predicts the next token. Training runs a loop that adjusts \
                 weights.",
            ),
            section(1, "Prompts", "A prompt tells the model what to write."),
        ],
    );
    store.put(&agents).await.expect("put");
    store.put(&models).await.expect("put");
    store
}

async fn a_natural_question_ranks_the_answering_passage_first(fx: &Fixture) {
    // Arrange
    let store = small_book(fx).await;

    // Act
    let hits = store
        .search("What does the agent loop do?", 10)
        .await
        .expect("searches");
    let only_stop_words = store.search("what is it", 10).await.expect("searches");

    // Assert
    let found: Vec<(&str, u32)> = hits.iter().map(|h| (h.path.as_str(), h.index)).collect();
    assert_eq!(found[0], ("part-1/agents", 1), "{hits:?}");
    assert!(
        found.contains(&("part-1/models", 0)),
        "a section with one of the words is a hit too: {found:?}"
    );
    assert!(
        !found.contains(&("part-1/models", 1)) && !found.contains(&("part-1/agents", 2)),
        "sections with none of the words are not: {found:?}"
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{hits:?}"
    );
    let first = &hits[0];
    assert_eq!(first.title, "The agent loop");
    assert_eq!(first.lesson_title, "Lesson part-1/agents");
    assert!(
        first.text.starts_with("The agent loop observes"),
        "{first:?}"
    );
    assert!(only_stop_words.is_empty(), "{only_stop_words:?}");
}

async fn vectors_sections_by_key_and_the_version_follow_the_index(fx: &Fixture) {
    // Arrange
    let store = books(fx);
    let empty = store.version().await.expect("version");
    assert_eq!(empty.lessons, 0);
    let store = small_book(fx).await;

    // Act
    let vectors = store.vectors(10).await.expect("vectors");
    let one = store.vectors(1).await.expect("vectors");
    let sections = store
        .sections(&[
            (path("part-1/models"), 1),
            (path("part-9/none"), 0),
            (path("part-1/agents"), 0),
            (path("part-1/agents"), 7),
        ])
        .await
        .expect("sections");
    let before = store.version().await.expect("version");
    store
        .remove(&[path("part-1/models")])
        .await
        .expect("removed");
    let after = store.version().await.expect("version");

    // Assert
    assert_eq!(
        vectors,
        [
            SectionVector {
                path: path("part-1/agents"),
                index: 0,
                vector: vec![1.0, 0.0],
            },
            SectionVector {
                path: path("part-1/agents"),
                index: 1,
                vector: vec![0.0, 1.0],
            },
        ],
        "only sections with a vector, by path and position"
    );
    assert_eq!(one.len(), 1);
    let keys: Vec<(&str, u32)> = sections
        .iter()
        .map(|h| (h.path.as_str(), h.index))
        .collect();
    assert_eq!(
        keys,
        [("part-1/models", 1), ("part-1/agents", 0)],
        "in the order asked, unknown keys left out"
    );
    assert_eq!(sections[0].title, "Prompts");
    assert_eq!(sections[0].lesson_title, "Lesson part-1/models");
    assert_eq!(sections[0].text, "A prompt tells the model what to write.");
    assert_eq!(before.lessons, 2);
    assert!(before.latest_sync.is_some());
    assert_ne!(before, empty);
    assert_ne!(after, before, "a removal changes the version");
    assert!(store.sections(&[]).await.expect("nothing").is_empty());
}
