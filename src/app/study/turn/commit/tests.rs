use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

#[tokio::test(start_paused = true)]
async fn a_write_that_fails_while_the_store_is_away_is_retried_until_it_lands() {
    let calls = AtomicU32::new(0);
    let until = Instant::now() + Duration::from_secs(10);
    let (outcome, attempts) = retry_unavailable(until, || async {
        if calls.fetch_add(1, Ordering::SeqCst) < 3 {
            Err(StoreError::Unavailable)
        } else {
            Ok(())
        }
    })
    .await;
    assert!(outcome.is_ok());
    assert_eq!(attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline_with_the_store_still_unavailable() {
    let start = Instant::now();
    let until = start + Duration::from_secs(5);
    let (outcome, attempts) =
        retry_unavailable(until, || async { Err::<(), _>(StoreError::Unavailable) }).await;
    assert!(matches!(outcome, Err(StoreError::Unavailable)));
    assert!(attempts > 3, "backed off and tried again: {attempts}");
    assert!(Instant::now() <= until, "never past the deadline");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_hangs_is_cut_at_the_deadline() {
    let until = Instant::now() + Duration::from_secs(5);
    let (outcome, attempts) =
        retry_unavailable(until, std::future::pending::<Result<(), StoreError>>).await;
    assert!(matches!(outcome, Err(StoreError::Unavailable)));
    assert_eq!(attempts, 1);
    assert_eq!(Instant::now(), until);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_thread_is_not_retried() {
    let until = Instant::now() + Duration::from_secs(5);
    let (outcome, attempts) =
        retry_unavailable(until, || async { Err::<(), _>(StoreError::NotFound) }).await;
    assert!(matches!(outcome, Err(StoreError::NotFound)));
    assert_eq!(attempts, 1);
}
