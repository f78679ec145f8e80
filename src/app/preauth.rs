//! Pre-authentication throttling: a budget of refused or anonymous requests per client address.
//!
//! Every refused attempt at a protected route (no credential, a credential that fails, a wrong
//! operator secret, a bad webhook signature) spends one unit of its address's budget
//! (`PREAUTH_RATE_LIMIT`, a sliding log like the quotas). An address over budget is turned away
//! before its credential is looked at, so it can no longer make the service call the SSO or
//! query the key store. Successful authentications spend nothing.
//!
//! The budget is checked before and spent after authentication; between the two, attempts in
//! flight from the same address count as spent, so a burst of concurrent requests cannot slip
//! through before the first refusals are recorded.
//!
//! Counted in process: with several replicas an address gets the budget once per replica.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::{IntCounter, Registry};

use crate::domain::ports::RateLimiter;
use crate::domain::rate_limit::{Window, period_name};

/// Every IPv6 address of one /64 is one client: a single host usually holds a whole /64, so
/// counting addresses one by one would let it rotate through 2^64 fresh budgets.
const IPV6_GROUP_BITS: u32 = 64;

/// The key an address is counted under: the IPv4 address (IPv4-mapped IPv6 included), or the
/// IPv6 /64 it belongs to. At most 45 characters whatever the request says.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << (128 - IPV6_GROUP_BITS));
            format!("{}/{IPV6_GROUP_BITS}", std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// An address over its budget: when to come back, and the budget it exhausted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// How long until an attempt can succeed.
    pub retry_after: Duration,
    /// The exhausted window's limit.
    pub limit: u32,
    /// The exhausted window's name (`minute`, …).
    pub window: String,
}

/// The per-address budget of refused requests.
pub struct PreauthLimiter {
    windows: Vec<Window>,
    limiter: Arc<dyn RateLimiter>,
    /// Attempts being authenticated now, per key; an entry lives only while one is running,
    /// so the map holds at most one key per request in flight.
    in_flight: Mutex<HashMap<String, u32>>,
    /// Keys charged a refusal within the longest window: the others have their whole budget,
    /// so admitting them needs no limiter lookup (the common case: a signed-in student).
    charged: moka::sync::Cache<String, ()>,
    /// The smallest window limit: the whole budget of a key never charged.
    full_budget: u32,
    rejections: IntCounter,
}

/// Keys remembered as charged; past it the least recently charged are forgotten and looked up
/// in the limiter again only once charged again (at worst a second budget for them).
const CHARGED_CAPACITY: u64 = 100_000;

impl std::fmt::Debug for PreauthLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreauthLimiter")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl PreauthLimiter {
    /// A budget of `windows` per address counted in `limiter` (bounded in memory), with its
    /// rejection counter in `registry`.
    pub fn new(
        windows: Vec<Window>,
        limiter: Arc<dyn RateLimiter>,
        registry: Option<&Registry>,
    ) -> Self {
        let rejections = IntCounter::new(
            "preauth_rejections_total",
            "Requests turned away because their address used up its budget of refused requests",
        )
        .expect("static counter definition is valid");
        if let Some(registry) = registry {
            let _ = registry.register(Box::new(rejections.clone()));
        }
        let longest = windows
            .iter()
            .map(|w| w.period)
            .max()
            .unwrap_or(Duration::from_secs(1));
        let full_budget = windows.iter().map(|w| w.limit).min().unwrap_or(u32::MAX);
        Self {
            windows,
            limiter,
            in_flight: Mutex::new(HashMap::new()),
            charged: moka::sync::Cache::builder()
                .max_capacity(CHARGED_CAPACITY)
                .time_to_live(longest)
                .build(),
            full_budget,
            rejections,
        }
    }

    /// Starts an attempt from `key` (see [`client_key`]): the budget left must cover it and
    /// every attempt of the same key still in flight.
    ///
    /// # Errors
    /// [`Throttled`] when the key is over budget; nothing is spent then.
    pub async fn admit(self: &Arc<Self>, key: &str) -> Result<Attempt, Throttled> {
        if self.windows.is_empty() {
            return Ok(Attempt { held: None });
        }
        // Counted before the budget is read: an attempt that finishes meanwhile has spent its
        // unit before it leaves the count, so no interleaving lets the total exceed the budget.
        let running = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let count = in_flight.entry(key.to_owned()).or_insert(0);
            *count += 1;
            *count
        };
        let attempt = Attempt {
            held: Some((self.clone(), key.to_owned())),
        };
        if running <= self.full_budget && !self.charged.contains_key(key) {
            return Ok(attempt);
        }
        let decision = match self.limiter.peek(&preauth_key(key), &self.windows).await {
            Ok(decision) => decision,
            Err(e) => {
                // The in-process limiter does no I/O; if it ever fails, let the attempt in.
                tracing::error!(error = %e, "pre-authentication limiter failed; attempt allowed");
                return Ok(attempt);
            }
        };
        let remaining = decision
            .windows
            .iter()
            .map(|w| w.remaining)
            .min()
            .unwrap_or(u32::MAX);
        if decision.allowed && running <= remaining {
            return Ok(attempt);
        }
        self.rejections.inc();
        let (limit, window) = self.windows.get(decision.tightest).map_or_else(
            || (0, "unknown".to_string()),
            |w| (w.limit, period_name(w.period)),
        );
        tracing::debug!(
            client = key,
            "pre-authentication budget exhausted; turned away"
        );
        Err(Throttled {
            // Concurrent attempts hold the rest of the budget: they end within seconds.
            retry_after: decision.retry_after.unwrap_or(Duration::from_secs(1)),
            limit,
            window,
        })
    }

    async fn spend(&self, key: &str) {
        self.charged.insert(key.to_owned(), ());
        match self.limiter.check(&preauth_key(key), &self.windows).await {
            Ok(decision) if decision.windows.iter().any(|w| w.remaining == 0) => {
                tracing::warn!(
                    target: "security",
                    event = "preauth_budget_exhausted",
                    client = key,
                    "client address used up its budget of refused requests"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "pre-authentication limiter failed"),
        }
    }

    fn leave(&self, key: &str) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(key);
            }
        }
    }
}

fn preauth_key(key: &str) -> String {
    format!("preauth:{key}")
}

/// One admitted attempt. Dropping it (authentication succeeded, or the request went away)
/// spends nothing; [`Attempt::refused`] spends one unit of the address's budget.
#[must_use]
pub struct Attempt {
    held: Option<(Arc<PreauthLimiter>, String)>,
}

impl Attempt {
    /// Records that the attempt was refused.
    pub async fn refused(self) {
        if let Some((limiter, key)) = &self.held {
            limiter.spend(key).await;
        }
        // Leaving the in-flight count happens on drop, also when this future is cancelled.
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some((limiter, key)) = self.held.take() {
            limiter.leave(&key);
        }
    }
}
