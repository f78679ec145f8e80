//! Daily token budgets: how many model tokens a student's tier may spend per UTC day, checked
//! before a turn starts and charged with what the turn cost once the model is done.
//!
//! Counted in the shared ledger (Redis) when configured, so every replica sees one budget per
//! student; every charge also goes to the in-process ledger, which answers instead while the
//! shared one fails. During an outage a replica thus knows what it charged itself today (a
//! floor), not what the others did. Nothing here ever fails a turn: a ledger that cannot be
//! read lets the turn through on the floor, and a charge that cannot be stored is logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use prometheus::{IntCounterVec, Opts, Registry};

use crate::domain::ports::{LedgerError, TokenLedger};
use crate::domain::principal::Tier;
use crate::domain::token_budget::{BudgetStatus, ChargeSource, budget_day};

/// A source of the current time: the budget day and its reset are read from it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Daily token budgets of the free, premium and admin tiers (`None` = unlimited).
pub type TierBudgets = [Option<u64>; 3];

/// The token budget use cases.
pub struct BudgetService {
    shared: Option<Arc<dyn TokenLedger>>,
    local: Arc<dyn TokenLedger>,
    budgets: TierBudgets,
    clock: RwLock<Clock>,
    degraded: AtomicBool,
    rejections: IntCounterVec,
    fallbacks: IntCounterVec,
    charged: IntCounterVec,
}

impl std::fmt::Debug for BudgetService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetService")
            .field("budgets", &self.budgets)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl BudgetService {
    /// Budgets over `local` alone, or `shared` (Redis) with `local` as the floor.
    pub fn new(
        shared: Option<Arc<dyn TokenLedger>>,
        local: Arc<dyn TokenLedger>,
        budgets: TierBudgets,
        registry: Option<&Registry>,
    ) -> Self {
        let rejections = IntCounterVec::new(
            Opts::new(
                "token_budget_rejections_total",
                "Turns refused because the daily token budget was spent",
            ),
            &["tier"],
        )
        .expect("static counter definition is valid");
        let fallbacks = IntCounterVec::new(
            Opts::new(
                "token_budget_fallbacks_total",
                "Budget reads and charges done in process because Redis failed",
            ),
            &["op"],
        )
        .expect("static counter definition is valid");
        let charged = IntCounterVec::new(
            Opts::new(
                "model_tokens_charged_total",
                "Model tokens charged to daily budgets, by whether the model reported them",
            ),
            &["source"],
        )
        .expect("static counter definition is valid");
        // Known series start at zero, so rates and alerts see them before the first event.
        for op in ["charge", "read"] {
            fallbacks.with_label_values(&[op]);
        }
        if let Some(registry) = registry {
            let _ = registry.register(Box::new(rejections.clone()));
            let _ = registry.register(Box::new(fallbacks.clone()));
            let _ = registry.register(Box::new(charged.clone()));
        }
        Self {
            shared,
            local,
            budgets,
            clock: RwLock::new(Arc::new(Utc::now)),
            degraded: AtomicBool::new(false),
            rejections,
            fallbacks,
            charged,
        }
    }

    /// The same on another clock (tests).
    #[must_use]
    pub fn with_clock(self, clock: Clock) -> Self {
        self.set_clock(clock);
        self
    }

    /// Replaces the clock of a running service, so a test can move to the next budget day.
    pub fn set_clock(&self, clock: Clock) {
        *self.clock.write().unwrap_or_else(PoisonError::into_inner) = clock;
    }

    /// Now, on the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        let clock = self
            .clock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        clock()
    }

    /// The daily budget of `tier`; `None` = unlimited.
    pub fn budget(&self, tier: Tier) -> Option<u64> {
        match tier {
            Tier::Free => self.budgets[0],
            Tier::Premium => self.budgets[1],
            Tier::Admin => self.budgets[2],
        }
    }

    /// `user`'s budget now, tokens spent today included (read even for an unlimited tier).
    pub async fn status(&self, user: &str, tier: Tier) -> BudgetStatus {
        let now = self.now();
        let used = self.spent(user, now).await;
        BudgetStatus::at(now, self.budget(tier), used)
    }

    /// Whether `user` may start a turn: `Ok` with the budget as it stands (`None` for an
    /// unlimited tier, which is not even read), `Err` with it when everything is spent.
    ///
    /// # Errors
    /// The exhausted budget, to name in the refusal.
    pub async fn check(
        &self,
        user: &str,
        tier: Tier,
    ) -> Result<Option<BudgetStatus>, BudgetStatus> {
        if self.budget(tier).is_none() {
            return Ok(None);
        }
        let status = self.status(user, tier).await;
        if status.exhausted() {
            self.rejections.with_label_values(&[tier_name(tier)]).inc();
            tracing::warn!(
                user,
                limit = status.limit,
                used = status.used,
                "daily token budget spent"
            );
            return Err(status);
        }
        Ok(Some(status))
    }

    /// Charges `tokens` to `user`'s budget of today; the new total when a ledger took it. Never
    /// fails: a charge the shared ledger refuses is kept in process and counted as a fallback.
    pub async fn charge(&self, user: &str, tokens: u64, source: ChargeSource) -> Option<u64> {
        if tokens == 0 {
            return None;
        }
        self.charged
            .with_label_values(&[source.as_str()])
            .inc_by(tokens);
        let day = budget_day(self.now());
        let local = self.local.charge(user, day, tokens).await;
        if let Some(shared) = &self.shared {
            match shared.charge(user, day, tokens).await {
                Ok(total) => {
                    self.recovered();
                    return Some(total);
                }
                Err(e) => self.fell_back("charge", &e),
            }
        }
        local
            .map_err(|e| tracing::error!(user, error = %e, "in-process token ledger failed"))
            .ok()
    }

    async fn spent(&self, user: &str, now: DateTime<Utc>) -> u64 {
        let day = budget_day(now);
        if let Some(shared) = &self.shared {
            match shared.spent(user, day).await {
                Ok(spent) => {
                    self.recovered();
                    return spent;
                }
                Err(e) => self.fell_back("read", &e),
            }
        }
        self.local.spent(user, day).await.unwrap_or_else(|e| {
            // The in-process ledger does no I/O; if it ever fails, let the turn through.
            tracing::error!(user, error = %e, "in-process token ledger failed; turn allowed");
            0
        })
    }

    fn recovered(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("shared token ledger is back");
        }
    }

    fn fell_back(&self, op: &str, error: &LedgerError) {
        self.fallbacks.with_label_values(&[op]).inc();
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "shared token ledger unavailable; budgets counted in process until it answers");
        }
    }
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Free => "free",
        Tier::Premium => "premium",
        Tier::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::ports::MockTokenLedger;

    struct Counter(std::sync::Mutex<std::collections::HashMap<(String, chrono::NaiveDate), u64>>);

    #[async_trait::async_trait]
    impl TokenLedger for Counter {
        async fn spent(&self, key: &str, day: chrono::NaiveDate) -> Result<u64, LedgerError> {
            Ok(*self.0.lock().unwrap().get(&(key.into(), day)).unwrap_or(&0))
        }
        async fn charge(
            &self,
            key: &str,
            day: chrono::NaiveDate,
            tokens: u64,
        ) -> Result<u64, LedgerError> {
            let mut map = self.0.lock().unwrap();
            let n = map.entry((key.into(), day)).or_default();
            *n += tokens;
            Ok(*n)
        }
    }

    fn counter() -> Arc<dyn TokenLedger> {
        Arc::new(Counter(Default::default()))
    }

    fn down() -> Arc<dyn TokenLedger> {
        let mut mock = MockTokenLedger::new();
        mock.expect_spent()
            .returning(|_, _| Err(LedgerError::Unavailable("down".into())));
        mock.expect_charge()
            .returning(|_, _, _| Err(LedgerError::Unavailable("down".into())));
        Arc::new(mock)
    }

    fn at(h: u32) -> Clock {
        let t = Utc.with_ymd_and_hms(2026, 3, 14, h, 0, 0).unwrap();
        Arc::new(move || t)
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_until_the_next_utc_day() {
        let budgets =
            BudgetService::new(None, counter(), [Some(50), None, None], None).with_clock(at(18));
        assert_eq!(
            budgets.check("u", Tier::Free).await.unwrap().unwrap().used,
            0
        );
        assert_eq!(
            budgets.charge("u", 57, ChargeSource::Reported).await,
            Some(57)
        );
        let refused = budgets.check("u", Tier::Free).await.unwrap_err();
        assert_eq!(refused.remaining(), Some(0));
        assert_eq!(
            refused.reset_after,
            std::time::Duration::from_secs(6 * 3_600)
        );
        assert!(
            budgets.check("other", Tier::Free).await.is_ok(),
            "per student"
        );
        budgets.set_clock(Arc::new(|| {
            Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 1).unwrap()
        }));
        assert!(budgets.check("u", Tier::Free).await.is_ok(), "a new day");
    }

    #[tokio::test]
    async fn an_unlimited_tier_is_never_refused_and_still_shows_its_use() {
        let budgets =
            BudgetService::new(None, counter(), [Some(1), None, None], None).with_clock(at(9));
        budgets
            .charge("admin", 1_000, ChargeSource::Estimated)
            .await;
        assert_eq!(budgets.check("admin", Tier::Admin).await.unwrap(), None);
        let status = budgets.status("admin", Tier::Admin).await;
        assert_eq!(
            (status.limit, status.used, status.remaining()),
            (None, 1_000, None)
        );
    }

    #[tokio::test]
    async fn while_the_shared_ledger_fails_the_in_process_one_decides() {
        let registry = Registry::new();
        let budgets = BudgetService::new(
            Some(down()),
            counter(),
            [Some(10), None, None],
            Some(&registry),
        )
        .with_clock(at(12));
        assert_eq!(
            budgets.charge("u", 10, ChargeSource::Reported).await,
            Some(10)
        );
        assert!(
            budgets.check("u", Tier::Free).await.is_err(),
            "the floor counts"
        );
        let fallbacks: u64 = registry
            .gather()
            .iter()
            .filter(|f| f.name() == "token_budget_fallbacks_total")
            .flat_map(|f| {
                f.get_metric()
                    .iter()
                    .map(|m| m.get_counter().get_value() as u64)
            })
            .sum();
        assert_eq!(fallbacks, 2, "one charge, one read");
    }

    #[tokio::test]
    async fn the_shared_ledger_is_the_one_read_while_it_answers() {
        let shared = counter();
        let budgets = BudgetService::new(
            Some(shared.clone()),
            counter(),
            [Some(10), None, None],
            None,
        )
        .with_clock(at(12));
        let day = budget_day(budgets.now());
        shared.charge("u", day, 10).await.unwrap();
        assert!(
            budgets.check("u", Tier::Free).await.is_err(),
            "charged by another replica"
        );
    }
}
