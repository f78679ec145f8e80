//! The token ledger contract, run against the in-process ledger and against real Redis (under
//! a prefix of its own): unknown keys read 0, charges add up atomically per key and day, and
//! Redis counters expire after about two days.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use study_mode_api::adapters::redis::RedisClient;
use study_mode_api::adapters::token_ledger_memory::MemoryTokenLedger;
use study_mode_api::adapters::token_ledger_redis::RedisTokenLedger;
use study_mode_api::config::RedisConfig;
use study_mode_api::domain::ports::TokenLedger;

use crate::helpers::test_redis_url;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

async fn contract(ledger: Arc<dyn TokenLedger>) {
    let key = format!("user-{}", uuid::Uuid::new_v4().simple());
    // Nothing charged yet
    assert_eq!(ledger.spent(&key, day(14)).await.unwrap(), 0);
    // Charges add up and answer the new total
    assert_eq!(ledger.charge(&key, day(14), 19).await.unwrap(), 19);
    assert_eq!(ledger.charge(&key, day(14), 1).await.unwrap(), 20);
    assert_eq!(ledger.spent(&key, day(14)).await.unwrap(), 20);
    // Per day and per key
    assert_eq!(ledger.spent(&key, day(15)).await.unwrap(), 0);
    assert_eq!(
        ledger
            .spent(&format!("{key}-other"), day(14))
            .await
            .unwrap(),
        0
    );
    // Concurrent charges all count
    let charges = (0..40).map(|_| {
        let (ledger, key) = (ledger.clone(), key.clone());
        async move { ledger.charge(&key, day(15), 3).await.unwrap() }
    });
    let totals = futures::future::join_all(charges).await;
    assert_eq!(ledger.spent(&key, day(15)).await.unwrap(), 120);
    let mut sorted = totals.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        40,
        "every charge saw its own total: {totals:?}"
    );
}

#[tokio::test]
async fn the_in_process_ledger_keeps_the_contract() {
    contract(Arc::new(MemoryTokenLedger::new(1_000))).await;
}

#[tokio::test]
async fn the_redis_ledger_keeps_the_contract_and_its_counters_expire() {
    use fred::prelude::{ClientLike, KeysInterface};
    let Some(url) = test_redis_url().await else {
        return;
    };
    let client = RedisClient::connect(&RedisConfig {
        url: url.into(),
        password: None,
    })
    .expect("valid URL")
    .client()
    .clone();
    let _ = tokio::time::timeout(Duration::from_secs(5), client.wait_for_connect()).await;
    let prefix = format!("tbtest:{}:", uuid::Uuid::new_v4().simple());
    let ledger = RedisTokenLedger::new(client.clone(), &prefix, Duration::from_secs(3));
    contract(Arc::new(ledger.clone())).await;
    ledger.charge("ttl", day(14), 5).await.unwrap();
    let ttl: i64 = client.ttl(ledger.redis_key("ttl", day(14))).await.unwrap();
    assert!((86_400..=2 * 86_400).contains(&ttl), "{ttl}");
}
