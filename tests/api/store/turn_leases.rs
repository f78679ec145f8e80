//! The turn lease (`SqlTurnLease`): one turn per thread across replicas sharing a database, and
//! no thread locked for long by a turn that ended, died, or lost the database meanwhile.

use std::time::Duration;

use study_mode_api::adapters::sql::Database;
use study_mode_api::adapters::sql::turn_lease::{LeaseSettings, SqlTurnLease};
use study_mode_api::domain::ports::{ThreadStore, TurnGuard, TurnLock};

use super::{Fixture, thread};

/// Longest hold asked for by the tests; leases themselves are much shorter.
const HOLD: Duration = Duration::from_secs(120);

fn lease_on(db: &Database, replica: &str, lease: Duration) -> SqlTurnLease {
    SqlTurnLease::new(
        db.clone(),
        LeaseSettings {
            lease,
            replica_id: replica.to_owned(),
        },
        None,
    )
}

fn lease(fx: &Fixture, replica: &str, lease: Duration) -> SqlTurnLease {
    lease_on(&fx.db, replica, lease)
}

async fn threads(store: &dyn ThreadStore, ids: &[&str]) {
    for (n, id) in ids.iter().enumerate() {
        let created = i64::try_from(n).expect("few threads");
        store
            .create_thread(&thread("alice", id, created))
            .await
            .expect("created");
    }
}

async fn take(lock: &SqlTurnLease, thread_id: &str) -> Option<Box<dyn TurnGuard>> {
    lock.try_acquire(thread_id, HOLD)
        .await
        .expect("lease answers")
}

/// Polls `lock` until it takes `thread_id`, for at most `within`.
async fn take_within(lock: &SqlTurnLease, thread_id: &str, within: Duration) -> Box<dyn TurnGuard> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(guard) = take(lock, thread_id).await {
            return guard;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{thread_id} still held after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_held_thread_is_refused_to_every_replica_until_released(fx: &Fixture) {
    // Arrange
    threads(&fx.store, &["thr_1", "thr_2"]).await;
    let a = lease(fx, "a", Duration::from_secs(30));
    let b = lease(fx, "b", Duration::from_secs(30));

    // Act
    let held = take(&a, "thr_1").await.expect("a free thread is taken");

    // Assert
    assert!(
        take(&b, "thr_1").await.is_none(),
        "another replica is refused"
    );
    assert!(
        take(&a, "thr_1").await.is_none(),
        "so is a second turn here"
    );
    assert!(take(&b, "thr_2").await.is_some(), "other threads are free");
    assert!(take(&b, "thr_none").await.is_none(), "no such thread");
    held.release().await;
    assert!(
        take(&b, "thr_1").await.is_some(),
        "an awaited release frees the thread for every replica"
    );
}

async fn a_dropped_guard_frees_the_thread_for_the_next_turn_at_once(fx: &Fixture) {
    // Arrange
    threads(&fx.store, &["thr_1"]).await;
    let a = lease(fx, "a", Duration::from_secs(30));
    let b = lease(fx, "b", Duration::from_secs(30));

    // Act + Assert: the next turn here does not race the background release.
    drop(take(&a, "thr_1").await.expect("taken"));
    let next = take(&a, "thr_1")
        .await
        .expect("the next turn here goes at once");
    drop(next);
    assert!(a.drain(Duration::from_secs(10)).await, "releases finish");
    assert!(take(&b, "thr_1").await.is_some(), "and free it for others");
}

async fn a_lease_that_is_no_longer_renewed_is_taken_over_once_it_expires(fx: &Fixture) {
    // Arrange: a holder that stops renewing after a second, as a dead process would.
    threads(&fx.store, &["thr_1"]).await;
    let dead = lease(fx, "dead", Duration::from_secs(1));
    let alive = lease(fx, "alive", Duration::from_secs(30));
    let leaked = dead
        .try_acquire("thr_1", Duration::from_secs(1))
        .await
        .expect("lease answers")
        .expect("taken");
    std::mem::forget(leaked);
    assert!(take(&alive, "thr_1").await.is_none(), "held at first");

    // Act + Assert
    let _taken = take_within(&alive, "thr_1", Duration::from_secs(10)).await;
}

async fn the_heartbeat_keeps_a_lease_alive_past_its_length(fx: &Fixture) {
    // Arrange
    threads(&fx.store, &["thr_1"]).await;
    let a = lease(fx, "a", Duration::from_secs(1));
    let b = lease(fx, "b", Duration::from_secs(30));
    let held = take(&a, "thr_1").await.expect("taken");

    // Act
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    // Assert
    assert!(
        take(&b, "thr_1").await.is_none(),
        "a running turn keeps its thread past the lease length"
    );
    held.release().await;
    assert!(take(&b, "thr_1").await.is_some());
}

async fn start_up_frees_the_leases_of_this_replica_and_no_other(fx: &Fixture) {
    // Arrange: the previous run of replica "node" died holding thr_1; "node:8000" (a name
    // starting with the same characters) and "other" hold thr_2 and thr_3.
    threads(&fx.store, &["thr_1", "thr_2", "thr_3"]).await;
    let previous = lease(fx, "node", Duration::from_secs(30));
    std::mem::forget(take(&previous, "thr_1").await.expect("taken"));
    let neighbour = lease(fx, "node:8000", Duration::from_secs(30));
    let _held_2 = take(&neighbour, "thr_2").await.expect("taken");
    let other = lease(fx, "other", Duration::from_secs(30));
    let _held_3 = take(&other, "thr_3").await.expect("taken");

    // Act
    let restarted = lease(fx, "node", Duration::from_secs(30));
    let freed = restarted.reclaim_replica().await.expect("reclaimed");

    // Assert
    assert_eq!(freed, 1);
    assert!(take(&restarted, "thr_1").await.is_some(), "own lease freed");
    assert!(
        take(&restarted, "thr_2").await.is_none(),
        "node:8000 keeps its lease"
    );
    assert!(
        take(&restarted, "thr_3").await.is_none(),
        "other keeps its lease"
    );
}

async fn release_all_frees_every_lease_of_this_process(fx: &Fixture) {
    // Arrange
    threads(&fx.store, &["thr_1", "thr_2", "thr_3"]).await;
    let a = lease(fx, "a", Duration::from_secs(30));
    let b = lease(fx, "b", Duration::from_secs(30));
    let _held = (take(&a, "thr_1").await, take(&a, "thr_2").await);
    let _theirs = take(&b, "thr_3").await.expect("taken");

    // Act
    let freed = a.release_all().await.expect("released");

    // Assert
    assert_eq!(freed, 2);
    assert!(take(&b, "thr_1").await.is_some());
    assert!(take(&b, "thr_2").await.is_some());
    assert!(take(&a, "thr_3").await.is_none(), "b's lease is b's");
}

sql_contract!(
    a_held_thread_is_refused_to_every_replica_until_released,
    a_dropped_guard_frees_the_thread_for_the_next_turn_at_once,
    a_lease_that_is_no_longer_renewed_is_taken_over_once_it_expires,
    the_heartbeat_keeps_a_lease_alive_past_its_length,
    start_up_frees_the_leases_of_this_replica_and_no_other,
    release_all_frees_every_lease_of_this_process,
);

#[tokio::test]
async fn a_release_that_failed_while_postgres_was_down_is_retried_when_it_returns() {
    use crate::helpers::{
        fresh_postgres_database, pairs, target_of, test_config, test_database_url, via,
    };
    use crate::proxy::TcpProxy;
    let Some(admin) = test_database_url().await else {
        return;
    };
    // Arrange: replica "a" reaches the database through a proxy, "b" directly.
    let url = fresh_postgres_database(&admin).await;
    let fx = Fixture::open(&url, None, &[]).await;
    threads(&fx.store, &["thr_1"]).await;
    let proxy = TcpProxy::start(target_of(&url)).await;
    let proxied = test_config(pairs(&[
        ("DATABASE_URL", &via(&url, proxy.addr)),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
        ("DB_MIN_CONNECTIONS", "0"),
    ]));
    let a_db = Database::connect(&proxied.database)
        .await
        .expect("database opens");
    // Long enough that only the retried release, not expiry, can free the thread in time.
    let a = lease_on(&a_db, "a", Duration::from_secs(60));
    let b = lease(&fx, "b", Duration::from_secs(60));
    let held = take(&a, "thr_1").await.expect("taken");

    // Act
    proxy.cut();
    drop(held);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(take(&b, "thr_1").await.is_none(), "not released while down");
    proxy.restore();

    // Assert
    assert!(
        a.drain(Duration::from_secs(20)).await,
        "the release went through once the database was back"
    );
    assert!(take(&b, "thr_1").await.is_some(), "and freed the thread");
}
