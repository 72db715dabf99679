//! Where the `jti` of every accepted DPoP proof is remembered for the `iat` window, so that a
//! proof is used once: in memory for one instance, in Redis (feature `redis`) for a fleet.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The future a [`ReplayStore`] returns.
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + 'a>>;

/// Remembers DPoP proof identifiers. Implement it for a store of your own (Memcached, a
/// database); the crate has [`MemoryReplayStore`] and, with feature `redis`,
/// `RedisReplayStore`.
///
/// A store that cannot answer returns an error: the request is then refused with 503, never
/// accepted (fail closed).
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{replay::MemoryReplayStore, replay::ReplayFuture, replay::ReplayStore};
///
/// /// Delegates to the in-memory store, counting calls.
/// struct Counted(MemoryReplayStore, std::sync::atomic::AtomicUsize);
///
/// impl ReplayStore for Counted {
///     fn first_use<'a>(&'a self, key: &'a str, now_ms: u64, ttl: Duration) -> ReplayFuture<'a> {
///         self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.0.first_use(key, now_ms, ttl)
///     }
/// }
/// ```
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` for `ttl` from `now_ms` (milliseconds since the epoch, from the layer's
    /// clock). `Ok(true)` when the key was not already recorded, `Ok(false)` when it was (a
    /// replay). Must be atomic: of two concurrent calls with one key, one sees `false`.
    fn first_use<'a>(&'a self, key: &'a str, now_ms: u64, ttl: Duration) -> ReplayFuture<'a>;
}

impl<T: ReplayStore> ReplayStore for Arc<T> {
    fn first_use<'a>(&'a self, key: &'a str, now_ms: u64, ttl: Duration) -> ReplayFuture<'a> {
        (**self).first_use(key, now_ms, ttl)
    }
}

/// A replay store that could not answer.
#[derive(Debug, Clone)]
pub struct ReplayStoreError {
    message: Arc<str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ReplayStoreError {
    /// An error with this message.
    pub fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// With the error that caused it.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReplayStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Proof identifiers remembered by this process only, each until its window ends. The
/// default store: right for one instance; a fleet behind a load balancer needs a shared store
/// (`RedisReplayStore`), or a proof refused here is accepted by a
/// neighbour.
///
/// Bounded: at most `capacity` live entries (default 1,000,000, about 100 MB at worst); when
/// full, new proofs are refused with 503 rather than forgotten early. One client cannot get
/// there alone: each DPoP key may hold only its share
/// ([`Dpop::proofs_per_key`](crate::Dpop::proofs_per_key)), past which that key alone is
/// answered 429.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tower_jwt_auth::{replay::MemoryReplayStore, replay::ReplayStore};
/// let store = MemoryReplayStore::new();
/// let ttl = Duration::from_secs(120);
/// assert!(store.first_use("k", 1_000, ttl).await.unwrap());
/// assert!(!store.first_use("k", 2_000, ttl).await.unwrap()); // replayed
/// assert!(store.first_use("k", 122_000, ttl).await.unwrap()); // its window has ended
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryReplayStore {
    inner: Arc<Mutex<Seen>>,
    capacity: usize,
}

#[derive(Default)]
struct Seen {
    until: HashMap<Box<str>, u64>,
    /// (expiry, key) in insertion order; with one window per layer, also in expiry order.
    order: VecDeque<(u64, Box<str>)>,
}

/// The default bound of [`MemoryReplayStore`].
const DEFAULT_CAPACITY: usize = 1_000_000;

impl MemoryReplayStore {
    /// An empty store of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .until
            .len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, key: &str, now_ms: u64, ttl: Duration) -> Result<bool, ReplayStoreError> {
        let mut seen = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Seen { until, order } = &mut *seen;
        while let Some((expiry, _)) = order.front() {
            if *expiry > now_ms {
                break;
            }
            if let Some((expiry, old)) = order.pop_front() {
                if until.get(&old) == Some(&expiry) {
                    until.remove(&old);
                }
            }
        }
        if until.get(key).is_some_and(|&expiry| expiry > now_ms) {
            return Ok(false);
        }
        if until.len() >= self.capacity {
            return Err(ReplayStoreError::new(
                "the in-memory DPoP replay store is full",
            ));
        }
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let expiry = now_ms.saturating_add(ttl_ms);
        until.insert(key.into(), expiry);
        order.push_back((expiry, key.into()));
        Ok(true)
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use<'a>(&'a self, key: &'a str, now_ms: u64, ttl: Duration) -> ReplayFuture<'a> {
        Box::pin(std::future::ready(self.record(key, now_ms, ttl)))
    }
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_their_window_and_the_store_is_bounded() {
        let store = MemoryReplayStore::with_capacity(2);
        let ttl = Duration::from_secs(10);
        assert!(store.record("a", 0, ttl).unwrap());
        assert!(!store.record("a", 9_999, ttl).unwrap());
        assert!(store.record("b", 5_000, ttl).unwrap());
        assert!(store.record("c", 6_000, ttl).is_err(), "full: fail closed");
        // At 10 s "a" is gone: room for "c", and "a" may be used again.
        assert!(store.record("c", 10_000, ttl).unwrap());
        assert_eq!(store.len(), 2);
        assert!(store.record("a", 15_000, ttl).unwrap());
        assert!(!store.record("a", 24_999, ttl).unwrap());
        assert_eq!(store.len(), 1, "c's window ended at 20 s");
    }
}
