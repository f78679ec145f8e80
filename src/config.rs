//! Typed configuration read from the environment (and an optional `.env`), validated once at
//! start-up with every problem reported together.

mod describe;
pub mod identity;
pub mod jobs;
mod parse;
mod raw;
pub mod reference;
pub mod traces;

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use parse::{ConfigError, Problem};
pub(crate) use raw::RawEnv;

/// Deployment profile; production turns off every development convenience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local work: pretty logs, development principal, interactive docs.
    Development,
    /// Real traffic: JSON logs, no development principal, strict origins.
    Production,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Relational database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; may hold a password.
    pub url: SecretString,
    /// Pool upper bound.
    pub max_connections: u32,
    /// Connections opened at start and kept warm.
    pub min_connections: u32,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout: Duration,
    /// Postgres `statement_timeout`.
    pub statement_timeout: Duration,
    /// Apply pending migrations at start.
    pub auto_migrate: bool,
}

impl DatabaseConfig {
    /// True for a SQLite URL.
    pub fn is_sqlite(&self) -> bool {
        self.url.expose_secret().starts_with("sqlite:")
    }

    /// The URL with any password replaced by `***`, safe to print.
    pub fn redacted_url(&self) -> String {
        parse::redact_url(self.url.expose_secret())
    }
}

/// Redis settings; absent means in-process adapters.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL; may hold a password.
    pub url: SecretString,
    /// Password applied when the URL carries none.
    pub password: Option<SecretString>,
}

/// The development principal used when no token is presented (development profile only).
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Whether the development principal is active: `DEV_MODE` when set, else only on a loopback
    /// bind with no SSO configured (so a reachable or SSO-backed service never trusts headers).
    pub enabled: bool,
    /// `DEV_MODE=true` was set explicitly (logged as a warning at start).
    pub explicit: bool,
    /// Default user id.
    pub user_id: String,
    /// Default e-mail.
    pub email: String,
    /// Default display name.
    pub name: String,
}

/// Where lessons come from.
#[derive(Debug, Clone)]
pub struct LessonsConfig {
    /// Local folder laid out like the docs prefix; replaces GitHub when set.
    pub dir: Option<String>,
    /// `owner/name` of the book's repository.
    pub github_repo: String,
    /// Branch to read.
    pub github_branch: String,
    /// Token for the GitHub API limits (`Authorization: token …`).
    pub github_token: Option<SecretString>,
    /// Folder of the lessons inside the repository.
    pub docs_prefix: String,
    /// Base URL of raw files (tests point it at a fake server).
    pub github_raw_base_url: String,
    /// Entries of the in-process lesson cache.
    pub l1_capacity: u64,
    /// Lifetime of an in-process entry in front of Redis.
    pub l1_ttl: Duration,
    /// How long a fetched lesson is fresh.
    pub content_ttl: Duration,
    /// Cache misses one user may send upstream per minute, per replica
    /// (`LESSON_UPSTREAM_FETCHES_PER_MINUTE`).
    pub upstream_fetches_per_minute: u32,
    /// Consecutive source failures that open its circuit breaker
    /// (`LESSON_SOURCE_BREAKER_FAILURES`).
    pub breaker_failures: u32,
    /// How long the open breaker leaves the source alone when the source gave no hint
    /// (`LESSON_SOURCE_BREAKER_COOL_OFF_SECS`).
    pub breaker_cool_off: Duration,
    /// Shortest time between two purges of everything (`LESSON_PURGE_ALL_MIN_INTERVAL_SECS`).
    pub purge_all_interval: Duration,
    /// Shared secret of `POST /admin/invalidate-cache` (`X-Admin-Secret`); unset disables it.
    pub admin_secret: Option<SecretString>,
    /// Secret of GitHub push webhooks (`X-Hub-Signature-256`); unset disables them.
    pub webhook_secret: Option<SecretString>,
}

/// The tutor model.
#[derive(Debug, Clone)]
pub struct TutorConfig {
    /// Key of an OpenAI-compatible API; unset means the offline tutor.
    pub openai_api_key: Option<SecretString>,
    /// Base URL of the API (`…/v1`).
    pub openai_base_url: String,
    /// Model for teach mode.
    pub model_teach: String,
    /// Model for ask mode.
    pub model_ask: String,
    /// Upper bound of one turn, model included.
    pub timeout: Duration,
    /// Upper bound on generated tokens per turn.
    pub max_output_tokens: u32,
    /// HTTP version spoken to the provider (`MODEL_HTTP_VERSION`).
    pub http_version: ModelHttpVersion,
    /// Streams one model connection carries at once (`MODEL_STREAMS_PER_CONNECTION`).
    pub streams_per_connection: usize,
}

/// HTTP version of the connections to the model provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelHttpVersion {
    /// HTTPS negotiates HTTP/2 or HTTP/1.1 (ALPN); plain http speaks HTTP/1.1.
    Auto,
    /// HTTP/1.1 only: one connection per open stream.
    Http1,
    /// HTTP/2 only, also over plain http (prior knowledge): streams share connections.
    Http2,
}

impl ModelHttpVersion {
    /// The value as written in `MODEL_HTTP_VERSION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Http1 => "http1",
            Self::Http2 => "http2",
        }
    }
}

/// Caps on what one user may keep stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimitsConfig {
    /// Threads one user may keep (`MAX_THREADS_PER_USER`).
    pub max_threads_per_user: u64,
    /// Items one thread may hold, hidden ones included (`MAX_ITEMS_PER_THREAD`).
    pub max_items_per_thread: u64,
}

/// One turn per thread: a lease on the thread's row, renewed while the turn runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnLockConfig {
    /// How long a lease holds without renewal (`TURN_LEASE_SECS`): how long a thread stays
    /// locked after the replica running its turn died.
    pub lease: Duration,
    /// Which replica this process is (`REPLICA_ID`).
    pub replica: ReplicaId,
}

/// The name of this replica in the owner tokens of its turn leases. A restart with the same
/// name frees the leases the previous run left behind at once, so two replicas running at
/// the same time must never share one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaId {
    /// `REPLICA_ID` as set.
    Explicit(String),
    /// `REPLICA_ID` unset: this host's name (`HOSTNAME`, else the kernel's), to which the
    /// listening port is appended once bound.
    Host {
        /// The host name, reduced to the characters an id may hold.
        name: String,
        /// With `REUSE_PORT` several processes share host and port: the process id tells them
        /// apart (a restart then no longer frees the previous run's leases at once; they
        /// expire within `TURN_LEASE_SECS`).
        process: Option<u32>,
    },
}

impl ReplicaId {
    /// The id in use once the service listens on `port`.
    pub fn resolve(&self, port: u16) -> String {
        match self {
            Self::Explicit(id) => id.clone(),
            Self::Host {
                name,
                process: None,
            } => format!("{name}:{port}"),
            Self::Host {
                name,
                process: Some(pid),
            } => format!("{name}:{port}:{pid}"),
        }
    }
}

/// Quotas per bucket and tier, and the limiter's own limits.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `chat` windows for free, premium and admin (empty = unlimited).
    pub chat: [Vec<crate::domain::rate_limit::Window>; 3],
    /// `api` windows for free, premium and admin (empty = unlimited).
    pub api: [Vec<crate::domain::rate_limit::Window>; 3],
    /// How long a Redis check may take before the in-process limiter decides instead.
    pub redis_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed for anonymous traffic.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Budget of refused or anonymous requests per client address (`PREAUTH_RATE_LIMIT`;
    /// empty = unlimited).
    pub preauth: Vec<crate::domain::rate_limit::Window>,
    /// Daily model token budgets of free, premium and admin (`TOKEN_BUDGET_*`; `None` =
    /// unlimited).
    pub token_budgets: [Option<u64>; 3],
}

/// Limits of the connection edge: how long a client may take, how many it may hold open.
#[derive(Debug, Clone)]
pub struct HttpEdgeConfig {
    /// A request head must arrive within this time of its first byte (of the accept, for a
    /// connection's first request).
    pub header_read_timeout: Duration,
    /// A request body must arrive within this time of its head.
    pub body_read_timeout: Duration,
    /// A connection with no request in flight and no traffic for this long is closed, and so
    /// is one whose peer accepts none of the response for this long.
    pub idle_timeout: Duration,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// Open connections beyond which new ones get a 503 and are closed; `None` = unlimited.
    pub max_connections: Option<usize>,
    /// `Strict-Transport-Security: max-age=…` on every response; `None` = header off.
    pub hsts_max_age: Option<u64>,
}

/// How callers prove who they are (development principal aside).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Key set URL; when unset it is discovered from `sso_url`.
    pub jwks_url: Option<String>,
    /// Base URL of the SSO (OpenID discovery, `/api/auth/jwks`, userinfo).
    pub sso_url: Option<String>,
    /// Accepted JWT signing algorithms (never HMAC or `none`).
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// How long fetched keys are used before they are fetched again.
    pub jwks_cache_ttl: Duration,
    /// Least time between two key-set fetches caused by unknown `kid`s or failures.
    pub jwks_min_refresh: Duration,
    /// How long fetched keys keep working while the SSO is down.
    pub jwks_max_stale: Duration,
    /// Where opaque tokens are looked up (`{SSO_URL}/api/auth/oauth2/userinfo` by default).
    pub userinfo_url: Option<String>,
    /// Claims (`iss`, `aud`) an operator chose to leave unchecked in production
    /// (`ALLOW_UNCHECKED_JWT_CLAIMS`); without it an unset `JWT_ISSUER`/`JWT_AUDIENCE` stops
    /// the start.
    pub unchecked_claims: Vec<String>,
}

impl AuthConfig {
    /// Whether JWTs can be verified (a key set URL is known or discoverable).
    pub fn verifies_jwts(&self) -> bool {
        self.jwks_url.is_some() || self.sso_url.is_some()
    }

    /// Whether any token verifier (JWTs or opaque tokens) is configured.
    pub fn verifies_tokens(&self) -> bool {
        self.verifies_jwts() || self.userinfo_url.is_some()
    }
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Profile.
    pub app_env: AppEnv,
    /// Bind address.
    pub host: String,
    /// Bind port (0 picks a free one, used by tests).
    pub port: u16,
    /// Set `SO_REUSEPORT`, so several processes on one machine share the port.
    pub reuse_port: bool,
    /// Database.
    pub database: DatabaseConfig,
    /// Redis, when configured.
    pub redis: Option<RedisConfig>,
    /// CORS allow-list.
    pub allowed_origins: Vec<String>,
    /// `tracing` filter directive.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Development principal.
    pub dev: DevConfig,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Connection timeouts and caps.
    pub http: HttpEdgeConfig,
    /// Serve the interactive API docs at `/docs`.
    pub docs_enabled: bool,
    /// Where clients reach the service (the spec's `servers`); default the bound address.
    pub public_base_url: String,
    /// Lesson source.
    pub lessons: LessonsConfig,
    /// Tutor model.
    pub tutor: TutorConfig,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Storage caps per user and per thread.
    pub storage_limits: StorageLimitsConfig,
    /// Cache `threads.list` pages per user, invalidated on every write of that user
    /// (`THREAD_LIST_CACHE`); in force only where that is exact (Redis, or one SQLite process).
    pub thread_list_cache: bool,
    /// Turn locks (`TURN_LEASE_SECS`, `REPLICA_ID`).
    pub turn_lock: TurnLockConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// The own sign-in and token issuance.
    pub identity: identity::IdentityConfig,
    /// Upstream URL variables allowed to use plain `http://` in production
    /// (`ALLOW_INSECURE_UPSTREAMS`, e.g. `OPENAI_BASE_URL` for a model on the same host).
    pub insecure_upstreams: Vec<String>,
    /// The book sync: job queue, workers, progress, schedule.
    pub jobs: jobs::JobsConfig,
    /// OpenTelemetry trace export (the standard `OTEL_*` variables).
    pub traces: traces::TracesConfig,
}

impl Config {
    /// Reads `.env` (when present) and the process environment.
    ///
    /// # Errors
    /// Every invalid variable, one [`Problem`] each.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported by the parse below as usual.
        let _ = dotenvy::dotenv();
        Self::from_vars(std::env::vars())
    }

    /// Builds a configuration from explicit pairs; tests use this instead of the environment.
    ///
    /// # Errors
    /// Every invalid variable, one [`Problem`] each.
    pub fn from_vars<I>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let raw: RawEnv = envy::from_iter(vars.into_iter().filter(|(_, v)| !v.trim().is_empty()))
            .map_err(|e| ConfigError::single("environment", e.to_string()))?;
        parse::validate(raw)
    }

    /// Whether this is the production profile.
    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Whether the upstream configured by `var` (e.g. `"JWKS_URL"`) may be reached over plain
    /// http: always in development, in production only when `ALLOW_INSECURE_UPSTREAMS` names it.
    pub fn plaintext_allowed(&self, var: &str) -> bool {
        !self.is_production() || self.insecure_upstreams.iter().any(|v| v == var)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.describe() {
            writeln!(f, "{name}={value}")?;
        }
        Ok(())
    }
}
