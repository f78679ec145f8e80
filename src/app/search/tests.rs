use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::domain::book::LessonAnalysis;
use crate::domain::ports::{EmbedError, IndexVersion, LessonStamp, SectionVector, SyncedLesson};

/// A book of sections with vectors; full text matches a section holding any query word.
#[derive(Default)]
struct FakeBook {
    sections: Vec<(SearchHit, Vec<f32>)>,
    version: Mutex<IndexVersion>,
    vector_reads: AtomicUsize,
    unavailable: bool,
}

impl FakeBook {
    fn with(sections: &[(&str, u32, &str, &[f32])]) -> Self {
        Self {
            sections: sections
                .iter()
                .map(|(path, index, text, vector)| {
                    (
                        SearchHit {
                            path: LessonPath::new_unchecked((*path).to_owned()),
                            index: *index,
                            title: format!("Section {index}"),
                            score: 0.0,
                            lesson_title: format!("Lesson {path}"),
                            text: (*text).to_owned(),
                        },
                        vector.to_vec(),
                    )
                })
                .collect(),
            ..Self::default()
        }
    }
}

#[async_trait]
impl BookStore for FakeBook {
    async fn stamp(&self, _: &LessonPath) -> Result<Option<LessonStamp>, StoreError> {
        Ok(None)
    }
    async fn put(&self, _: &SyncedLesson) -> Result<(), StoreError> {
        Ok(())
    }
    async fn remove(&self, _: &[LessonPath]) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn paths(&self) -> Result<Vec<LessonPath>, StoreError> {
        Ok(Vec::new())
    }
    async fn analyses(&self) -> Result<Vec<LessonAnalysis>, StoreError> {
        Ok(Vec::new())
    }
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError> {
        if self.unavailable {
            return Err(StoreError::Unavailable);
        }
        let words = query_words(query);
        let mut hits: Vec<SearchHit> = self
            .sections
            .iter()
            .filter_map(|(hit, _)| {
                let text = hit.text.to_lowercase();
                let n = words.iter().filter(|w| text.contains(w.as_str())).count();
                (n > 0).then(|| SearchHit {
                    score: n as f64,
                    ..hit.clone()
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit as usize);
        Ok(hits)
    }
    async fn vectors(&self, limit: u32) -> Result<Vec<SectionVector>, StoreError> {
        self.vector_reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .sections
            .iter()
            .take(limit as usize)
            .map(|(hit, vector)| SectionVector {
                path: hit.path.clone(),
                index: hit.index,
                vector: vector.clone(),
            })
            .collect())
    }
    async fn sections(&self, keys: &[(LessonPath, u32)]) -> Result<Vec<SearchHit>, StoreError> {
        Ok(keys
            .iter()
            .filter_map(|(p, i)| {
                self.sections
                    .iter()
                    .find(|(h, _)| h.path == *p && h.index == *i)
                    .map(|(h, _)| h.clone())
            })
            .collect())
    }
    async fn version(&self) -> Result<IndexVersion, StoreError> {
        Ok(*self.version.lock().unwrap())
    }
}

/// Embeds a question as its first scripted vector whose keyword it holds.
struct FakeEmbedder {
    topics: Vec<(&'static str, Vec<f32>)>,
    fail: bool,
}

#[async_trait]
impl Embedder for FakeEmbedder {
    fn model(&self) -> &str {
        "fake"
    }
    async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.fail {
            return Err(EmbedError::Unavailable("down".into()));
        }
        Ok(inputs
            .iter()
            .map(|text| {
                self.topics
                    .iter()
                    .find(|(k, _)| text.contains(k))
                    .map_or_else(|| vec![0.0, 0.0, 1.0], |(_, v)| v.clone())
            })
            .collect())
    }
}

fn book() -> Arc<FakeBook> {
    Arc::new(FakeBook::with(&[
        (
            "p/cars",
            0,
            "An automobile has four wheels.",
            &[1.0, 0.0, 0.0],
        ),
        (
            "p/fruit",
            0,
            "Bananas are yellow; an agent may eat them.",
            &[0.0, 1.0, 0.0],
        ),
        (
            "p/agents",
            1,
            "The agent loop observes and acts.",
            &[0.2, 0.9, 0.1],
        ),
    ]))
}

fn embedder(fail: bool) -> Arc<dyn Embedder> {
    Arc::new(FakeEmbedder {
        topics: vec![
            ("vehicle", vec![1.0, 0.0, 0.0]),
            ("agent", vec![0.1, 1.0, 0.0]),
        ],
        fail,
    })
}

fn at(passages: &[Passage]) -> Vec<(&str, u32)> {
    passages
        .iter()
        .map(|p| (p.path.as_str(), p.section_index))
        .collect()
}

#[tokio::test]
async fn full_text_alone_returns_the_store_ranking_with_titles_text_and_snippets() {
    let service = SearchService::new(book(), None);

    let found = service
        .search_ranked("What is the agent loop?", 10)
        .await
        .unwrap();

    assert_eq!(found.mode, SearchMode::FullText);
    assert_eq!(at(&found.passages), [("p/agents", 1), ("p/fruit", 0)]);
    let first = &found.passages[0];
    assert_eq!(first.lesson_title, "Lesson p/agents");
    assert_eq!(first.section_title, "Section 1");
    assert_eq!(first.text, "The agent loop observes and acts.");
    assert_eq!(
        first.snippet,
        "The <mark>agent</mark> <mark>loop</mark> observes and acts."
    );
    assert!(service.search("the of and", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn hybrid_finds_a_similar_section_no_word_matches_and_skips_unrelated_ones() {
    let store = book();
    let service = SearchService::new(store.clone(), Some(embedder(false)));

    let found = service.search_ranked("Which vehicle?", 10).await.unwrap();

    assert_eq!(found.mode, SearchMode::Hybrid);
    assert_eq!(at(&found.passages), [("p/cars", 0)], "only the similar one");
    assert_eq!(found.passages[0].snippet, "An automobile has four wheels.");
    assert!(found.passages[0].score > 0.0);
}

#[tokio::test]
async fn hybrid_puts_first_what_both_rankings_agree_on() {
    let service = SearchService::new(book(), Some(embedder(false)));

    let found = service.search_ranked("agent loop", 1).await.unwrap();

    assert_eq!(found.mode, SearchMode::Hybrid);
    assert_eq!(at(&found.passages), [("p/agents", 1)]);
}

#[tokio::test]
async fn a_failing_embeddings_model_falls_back_to_full_text() {
    let service = SearchService::new(book(), Some(embedder(true)));

    let found = service.search_ranked("Which vehicle?", 10).await.unwrap();
    let agents = service.search_ranked("agent", 1).await.unwrap();

    assert_eq!(found.mode, SearchMode::FullText);
    assert!(found.passages.is_empty());
    assert_eq!(at(&agents.passages), [("p/fruit", 0)]);
}

#[tokio::test]
async fn vectors_are_read_once_until_the_index_changes() {
    let store = book();
    let service =
        SearchService::new(store.clone(), Some(embedder(false))).with_settings(SearchSettings {
            vectors_check: Duration::ZERO,
            ..SearchSettings::default()
        });

    for _ in 0..3 {
        service.search("vehicle", 5).await.unwrap();
    }
    assert_eq!(store.vector_reads.load(Ordering::SeqCst), 1);
    store.version.lock().unwrap().lessons = 7;
    service.search("vehicle", 5).await.unwrap();
    service.search("vehicle", 5).await.unwrap();

    assert_eq!(store.vector_reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreadable_index_is_unavailable() {
    let store = Arc::new(FakeBook {
        unavailable: true,
        ..FakeBook::default()
    });
    let service = SearchService::new(store, None);

    let err = service.search("agent", 5).await.unwrap_err();

    assert!(matches!(err, SearchError::Unavailable), "{err:?}");
}

#[test]
fn the_embedded_question_is_bounded_and_on_one_line() {
    assert_eq!(embedding_input(" a\n\tb\u{0}c  "), "a b c");
    assert_eq!(embedding_input(&"x".repeat(500)).len(), MAX_QUERY_CHARS);
}
