//! The in-process cache: hits, every invalidating write, and a read that raced a write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::{CachedThreadStore, LocalBump, ThreadListCache};
use crate::domain::ports::{MockThreadStore, StoreError, ThreadStore, TurnCommit};
use crate::domain::thread::{Order, Page, PageRequest, Thread, ThreadStatus};

fn thread(id: &str, title: &str) -> Thread {
    Thread {
        id: id.to_owned(),
        user_id: "u1".to_owned(),
        organization_id: None,
        title: Some(title.to_owned()),
        status: ThreadStatus::default(),
        created_at: Utc::now(),
        metadata: serde_json::json!({}),
    }
}

fn first_page() -> PageRequest {
    PageRequest {
        limit: 20,
        after: None,
        order: Order::Desc,
    }
}

/// A store whose rows are `rows` and whose every write succeeds; counts list reads.
fn store(rows: Arc<Mutex<Vec<Thread>>>, reads: Arc<AtomicUsize>) -> MockThreadStore {
    let mut inner = MockThreadStore::new();
    inner.expect_list_threads().returning(move |_, _| {
        reads.fetch_add(1, Ordering::SeqCst);
        Ok(Page {
            data: rows.lock().unwrap().clone(),
            has_more: false,
            after: None,
        })
    });
    inner.expect_create_thread().returning(|_| Ok(()));
    inner.expect_save_thread().returning(|_| Ok(()));
    inner.expect_delete_thread().returning(|_, _| Ok(()));
    inner.expect_commit_turn().returning(|_, _| Ok(()));
    inner.expect_add_item().returning(|_, _| Ok(()));
    inner
}

fn titles(page: &Page<Thread>) -> Vec<String> {
    page.data.iter().filter_map(|t| t.title.clone()).collect()
}

fn turn(title: Option<&str>) -> TurnCommit {
    TurnCommit {
        thread_id: "t1".to_owned(),
        items: vec![],
        state: None,
        title: title.map(str::to_owned),
        usage: None,
    }
}

#[tokio::test]
async fn a_repeated_list_is_served_from_memory_and_every_listed_write_drops_it() {
    let rows = Arc::new(Mutex::new(vec![thread("t1", "one")]));
    let reads = Arc::new(AtomicUsize::new(0));
    let cached = CachedThreadStore::new(
        Arc::new(store(rows.clone(), reads.clone())),
        Arc::new(ThreadListCache::local()),
    );
    let list = || async { cached.list_threads("u1", &first_page()).await.unwrap() };
    assert_eq!(titles(&list().await), ["one"]);
    assert_eq!(titles(&list().await), ["one"]);
    assert_eq!(reads.load(Ordering::SeqCst), 1, "second list from memory");

    // Writes that leave the listed columns alone keep the page.
    cached.commit_turn("u1", &turn(None)).await.unwrap();
    list().await;
    assert_eq!(reads.load(Ordering::SeqCst), 1);

    // Each write of a thread row: the next list reads the store and shows it.
    let writes = [
        ("create", thread("t2", "two")),
        ("rename", thread("t1", "renamed")),
        ("turn title", thread("t1", "titled")),
        ("delete", thread("t1", "gone")),
    ];
    for (n, (what, row)) in writes.into_iter().enumerate() {
        {
            let mut rows = rows.lock().unwrap();
            rows.retain(|t| t.id != row.id);
            if what != "delete" {
                rows.push(row.clone());
            }
        }
        match what {
            "create" => cached.create_thread(&row).await.unwrap(),
            "rename" => cached.save_thread(&row).await.unwrap(),
            "turn title" => cached
                .commit_turn("u1", &turn(Some("titled")))
                .await
                .unwrap(),
            _ => cached.delete_thread("u1", &row.id).await.unwrap(),
        }
        let listed = titles(&list().await);
        assert_eq!(reads.load(Ordering::SeqCst), n + 2, "{what}: read again");
        let expected: Vec<String> = rows
            .lock()
            .unwrap()
            .iter()
            .filter_map(|t| t.title.clone())
            .collect();
        assert_eq!(listed, expected, "{what}: fresh");
    }
}

#[tokio::test]
async fn a_page_read_while_a_write_ran_is_never_served_after_that_write() {
    let cache = Arc::new(ThreadListCache::local());
    let reads = Arc::new(AtomicUsize::new(0));
    let mut inner = MockThreadStore::new();
    let (during, counted) = (cache.clone(), reads.clone());
    // The first read sees the old row, and a write of the user ends while it runs.
    inner.expect_list_threads().returning(move |user, _| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            drop(LocalBump {
                cache: &during,
                user_id: user,
            });
            return Ok(Page {
                data: vec![thread("t1", "old")],
                has_more: false,
                after: None,
            });
        }
        Ok(Page {
            data: vec![thread("t1", "new")],
            has_more: false,
            after: None,
        })
    });
    let cached = CachedThreadStore::new(Arc::new(inner), cache);
    let first = cached.list_threads("u1", &first_page()).await.unwrap();
    assert_eq!(titles(&first), ["old"]);
    let second = cached.list_threads("u1", &first_page()).await.unwrap();
    assert_eq!(titles(&second), ["new"], "the raced page was not served");
    let third = cached.list_threads("u1", &first_page()).await.unwrap();
    assert_eq!(titles(&third), ["new"]);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the fresh page is served from memory"
    );
}

#[tokio::test]
async fn users_and_page_requests_have_pages_of_their_own_and_failures_are_not_kept() {
    let reads = Arc::new(AtomicUsize::new(0));
    let mut inner = MockThreadStore::new();
    let counted = reads.clone();
    inner.expect_list_threads().returning(move |user, page| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        if user == "broken" && n < 4 {
            return Err(StoreError::Unavailable);
        }
        Ok(Page {
            data: vec![thread(user, &format!("{user}-{}", page.limit))],
            has_more: false,
            after: None,
        })
    });
    let cached = CachedThreadStore::new(Arc::new(inner), Arc::new(ThreadListCache::local()));
    let small = PageRequest {
        limit: 5,
        ..first_page()
    };
    for _ in 0..2 {
        assert_eq!(
            titles(&cached.list_threads("a", &first_page()).await.unwrap()),
            ["a-20"]
        );
        assert_eq!(
            titles(&cached.list_threads("a", &small).await.unwrap()),
            ["a-5"]
        );
        assert_eq!(
            titles(&cached.list_threads("b", &first_page()).await.unwrap()),
            ["b-20"]
        );
    }
    assert_eq!(reads.load(Ordering::SeqCst), 3);
    assert!(cached.list_threads("broken", &first_page()).await.is_err());
    assert_eq!(
        titles(&cached.list_threads("broken", &first_page()).await.unwrap()),
        ["broken-20"]
    );
}
