//! The `threads.list` cache of the thread store.

use std::sync::Arc;

use crate::adapters::redis::RedisClient;
use crate::adapters::thread_list_cache::{
    CachedThreadStore, CachedUserDataStore, SharedGenerations, ThreadListCache,
};
use crate::config::Config;
use crate::domain::ports::{ThreadStore, UserDataStore};

/// The thread store and the user data store the service uses: `threads` and `user_data`, with
/// the `threads.list` cache in front when there is one.
pub(super) fn stores(
    config: &Config,
    redis: Option<&RedisClient>,
    threads: Arc<dyn ThreadStore>,
    user_data: Arc<dyn UserDataStore>,
) -> (Arc<dyn ThreadStore>, Arc<dyn UserDataStore>) {
    match thread_list_cache(config, redis) {
        Some(cache) => (
            Arc::new(CachedThreadStore::new(threads, cache.clone())),
            Arc::new(CachedUserDataStore::new(user_data, cache)),
        ),
        None => (threads, user_data),
    }
}

/// The `threads.list` cache, where it can be exact: with Redis (every replica checks the
/// user's generation there), or on SQLite served by this one process; `None` when
/// `THREAD_LIST_CACHE=false`, and on Postgres without Redis or SQLite with `REUSE_PORT` (other
/// processes would write unseen).
fn thread_list_cache(config: &Config, redis: Option<&RedisClient>) -> Option<Arc<ThreadListCache>> {
    if !config.thread_list_cache {
        return None;
    }
    let cache = match redis {
        Some(r) => ThreadListCache::shared(
            SharedGenerations::new(
                r.client().clone(),
                "tl:v1:",
                config.rate_limits.redis_timeout,
            )
            .with_health(r.health().clone()),
        ),
        None if config.database.is_sqlite() && !config.reuse_port => ThreadListCache::local(),
        None => {
            tracing::info!(
                "threads.list cache off: without Redis it is exact only for one SQLite process"
            );
            return None;
        }
    };
    Some(Arc::new(cache))
}
