//! The DPoP replay store of a fleet (feature `redis`): `SET key 1 NX PX ttl` on a Redis every
//! instance shares, so that a proof accepted by one instance is refused by all the others.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::replay::{ReplayFuture, ReplayStore, ReplayStoreError};
use crate::reject::ConfigError;

/// Each operation's bound, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// DPoP proof identifiers in Redis, shared by every instance that uses the same server and key
/// prefix. Connects on first use and reconnects after a failure; while Redis cannot be
/// reached (or answers later than [`timeout`](RedisReplayStore::timeout)), DPoP requests are
/// refused with 503, never accepted.
///
/// **One client flooding the store.** Every entry expires with its proof's window (`SET … PX`),
/// so Redis holds at most the proofs of one window. Within it, each instance counts each DPoP
/// key's proofs ([`Dpop::proofs_per_key`](crate::Dpop::proofs_per_key), 10,000 per window by
/// default) and answers 429 to a key past its share, so one key can hold at most `instances ×
/// proofs_per_key` entries (about 100 bytes each) however fast it mints proofs, and the other
/// clients keep being served. Size Redis for the keys you serve at that bound, and keep
/// `maxmemory-policy` at `noeviction` (or a `volatile-*` policy only with room to spare): an
/// evicted entry is a proof that can be replayed, while a full Redis refuses new writes, which
/// this store answers with 503 (fail closed).
///
/// ```
/// use tower_jwt_auth::{Dpop, JwtAuth, replay::RedisReplayStore};
/// let store = RedisReplayStore::new("redis://127.0.0.1:6379").unwrap();
/// let auth = JwtAuth::new("https://auth.example.com", "insights-api")
///     .dpop(Dpop::new("https://api.example.com").replay_store(store));
/// # assert!(auth.validate().is_ok());
/// ```
pub struct RedisReplayStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
}

impl RedisReplayStore {
    /// A store on the Redis at `url` (`redis://host:port/db`, `rediss://` for TLS). Nothing
    /// is connected yet.
    ///
    /// # Errors
    /// A [`ConfigError`] (field `redis`) when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError::new("redis", format!("{url:?} is not a Redis URL: {e}")))?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            prefix: "tower-jwt-auth:dpop:".into(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The prefix of the keys written. Defaults to `tower-jwt-auth:dpop:`; services that must
    /// not see each other's proofs use different prefixes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one operation (connecting included) may take before the request is refused
    /// with 503. Defaults to 1 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn connection(&self) -> Result<ConnectionManager, ReplayStoreError> {
        let unreachable = |e: redis::RedisError| {
            ReplayStoreError::new("Redis could not be reached").with_source(e)
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let connection = self
            .connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .map_err(unreachable)?;
        Ok(connection.clone())
    }

    async fn set_nx(&self, key: &str, ttl: Duration) -> Result<bool, ReplayStoreError> {
        let mut connection = self.connection().await?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let answer: Option<String> = redis::cmd("SET")
            .arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut connection)
            .await
            .map_err(|e| ReplayStoreError::new("the Redis SET failed").with_source(e))?;
        Ok(answer.is_some())
    }
}

impl ReplayStore for RedisReplayStore {
    fn first_use<'a>(&'a self, key: &'a str, _now_ms: u64, ttl: Duration) -> ReplayFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.set_nx(key, ttl))
                .await
                .unwrap_or_else(|_| Err(ReplayStoreError::new("Redis did not answer in time")))
        })
    }
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        let info = self.client.get_connection_info();
        f.debug_struct("RedisReplayStore")
            .field("addr", &info.addr.to_string())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
