//! Driven side of the hexagon: implementations of the domain ports over real infrastructure.
//!
//! Adapters never import each other; `bootstrap.rs` is the only place that knows them all.

pub mod embeddings_openai;
pub mod jobs;
pub mod jwks;
pub mod lesson_cache_memory;
pub mod lesson_cache_redis;
pub mod lessons_github;
pub mod lessons_local;
pub mod oauth;
pub mod progress_memory;
pub mod progress_redis;
pub mod rate_limit_memory;
pub mod rate_limit_redis;
pub mod redis;
pub mod redis_bus;
pub mod redis_deliveries;
pub mod redis_lock;
pub mod sql;
pub mod thread_list_cache;
pub mod token_ledger_memory;
pub mod token_ledger_redis;
pub mod tutor_offline;
pub mod tutor_openai;
pub mod userinfo;

/// Installs the `ring` rustls provider as the process default when none is installed yet:
/// reqwest is built without one and cannot build a client otherwise. The binary installs it at
/// start; this covers the other entry points (tests, tools) of every HTTP adapter.
pub(crate) fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
