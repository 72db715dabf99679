//! The key-set cache: a lock-free snapshot for the hot path, and one refresh at a time for
//! everything else (first load, refresh-ahead, unknown `kid`), run in its own task so that a
//! request that gives up waiting never cancels the fetch others are waiting for.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::{ArcSwapOption, Guard};
use reqwest::Url;
use tokio::sync::watch;

use super::{discovery, jwk, unavailable, KeySet};
use crate::algorithm::AlgorithmSet;
use crate::clock::Clock;
use crate::error::{AuthError, KeySourceError, KeySourceErrorKind};
use crate::http::Fetcher;

/// Where keys come from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// OpenID Connect discovery from the issuer.
    Discovery { issuer: String, issuer_url: Url },
    /// A JWK set URL given in configuration.
    JwksUri(Url),
    /// Keys given in configuration; never refreshed.
    Fixed,
}

/// Timings of the cache. Every default is documented on the builder method that sets it.
#[derive(Debug, Clone)]
pub(crate) struct CachePolicy {
    pub(crate) ttl_floor: Duration,
    pub(crate) ttl_ceiling: Duration,
    pub(crate) ttl_default: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) wait_budget: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl_floor: Duration::from_secs(5 * 60),
            ttl_ceiling: Duration::from_secs(24 * 3600),
            ttl_default: Duration::from_secs(15 * 60),
            max_stale: Duration::from_secs(24 * 3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            wait_budget: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// No usable set: the caller waits.
    Missing,
    /// The set is due for refresh; nobody waits.
    Routine,
    /// A token names a `kid` the set lacks: allowed once per cooldown.
    UnknownKid,
}

type Outcome = Result<Arc<KeySet>, KeySourceError>;

/// The key set of one issuer.
pub(crate) struct KeySource {
    origin: Origin,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    policy: CachePolicy,
    allowed: AlgorithmSet,
    current: ArcSwapOption<KeySet>,
    /// No fetch starts before this time (backoff after failures).
    next_attempt_at: AtomicU64,
    refreshing: AtomicBool,
    /// Bumped whenever a refresh drops a key: verdicts reached before then no longer count.
    removal_epoch: AtomicU64,
    jwks_uri: OnceLock<Url>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    inflight: Option<watch::Receiver<Option<Outcome>>>,
    failures: u32,
    last_error: Option<KeySourceError>,
}

enum Start {
    Waiting(watch::Receiver<Option<Outcome>>),
    NotNow,
}

impl KeySource {
    pub(crate) fn new(
        origin: Origin,
        fetcher: Fetcher,
        clock: Arc<dyn Clock>,
        policy: CachePolicy,
        allowed: AlgorithmSet,
        fixed: Option<KeySet>,
    ) -> Self {
        Self {
            origin,
            fetcher,
            clock,
            policy,
            allowed,
            current: ArcSwapOption::new(fixed.map(Arc::new)),
            next_attempt_at: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            removal_epoch: AtomicU64::new(0),
            jwks_uri: OnceLock::new(),
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn info(&self) -> Option<super::KeySetInfo> {
        self.current.load().as_ref().map(|set| set.info())
    }

    /// Changes whenever a refresh removes a key from the set.
    pub(crate) fn removal_epoch(&self) -> u64 {
        self.removal_epoch.load(Ordering::Acquire)
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The current set, if it may still be used at `now`. Lock-free; starts a background
    /// refresh when the set is due.
    pub(crate) fn usable(self: &Arc<Self>, now: u64) -> Option<Guard<Option<Arc<KeySet>>>> {
        let guard = self.current.load();
        let set = guard.as_ref()?;
        if now >= set.usable_until {
            return None;
        }
        if now >= set.refresh_at
            && !self.refreshing.load(Ordering::Relaxed)
            && now >= self.next_attempt_at.load(Ordering::Relaxed)
        {
            let _ = self.start(Why::Routine, now);
        }
        Some(guard)
    }

    /// A usable key set, refreshing first if `why` calls for it and the cooldown and backoff
    /// allow it. Waits at most the wait budget.
    pub(crate) async fn obtain(self: &Arc<Self>, why: Why) -> Result<Arc<KeySet>, AuthError> {
        let now = self.clock.now();
        if let Start::Waiting(rx) = self.start(why, now) {
            let budget = self.policy.wait_budget;
            return match tokio::time::timeout(budget, wait(rx)).await {
                Ok(Some(Ok(set))) => Ok(set),
                Ok(Some(Err(e))) => self.fallback(now, e),
                Ok(None) => self.fallback(now, abandoned()),
                Err(_) => self.fallback(
                    now,
                    KeySourceError::new(
                        KeySourceErrorKind::Timeout,
                        format!("keys did not arrive within the wait budget of {budget:?}"),
                    ),
                ),
            };
        }
        self.fallback(now, self.backing_off())
    }

    /// Loads keys now and reports the outcome, without a wait budget (the fetch itself is
    /// bounded by its timeouts).
    pub(crate) async fn load_now(self: &Arc<Self>) -> Result<Arc<KeySet>, AuthError> {
        let now = self.clock.now();
        if let Some(guard) = self.usable(now) {
            if let Some(set) = guard.as_ref() {
                return Ok(Arc::clone(set));
            }
        }
        match self.start(Why::Missing, now) {
            Start::Waiting(rx) => match wait(rx).await {
                Some(Ok(set)) => Ok(set),
                Some(Err(e)) => self.fallback(now, e),
                None => self.fallback(now, abandoned()),
            },
            Start::NotNow => self.fallback(now, self.backing_off()),
        }
    }

    /// Why no fetch starts now: the last failure, while retries back off.
    fn backing_off(&self) -> KeySourceError {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.last_error {
            Some(e) if e.is_config() => e.clone(),
            Some(e) => KeySourceError::new(
                e.kind(),
                format!("key fetches are backing off after failures; the last: {e}"),
            ),
            None => KeySourceError::new(
                KeySourceErrorKind::Other,
                "key fetches are backing off after failures",
            ),
        }
    }

    /// The current set if still usable, else 503 (500 for a configuration error).
    fn fallback(&self, now: u64, why: KeySourceError) -> Result<Arc<KeySet>, AuthError> {
        match self.current.load_full() {
            Some(set) if now < set.usable_until => Ok(set),
            _ => {
                let next = self.next_attempt_at.load(Ordering::Relaxed);
                Err(unavailable(
                    Duration::from_secs(next.saturating_sub(now).max(1)),
                    why,
                ))
            }
        }
    }

    /// Joins the refresh in flight, or starts one if allowed.
    fn start(self: &Arc<Self>, why: Why, now: u64) -> Start {
        if matches!(self.origin, Origin::Fixed) {
            return Start::NotNow;
        }
        let Ok(mut state) = self.state.lock() else {
            return Start::NotNow;
        };
        if let Some(rx) = &state.inflight {
            return Start::Waiting(rx.clone());
        }
        if now < self.next_attempt_at.load(Ordering::Relaxed) {
            return Start::NotNow;
        }
        if why == Why::UnknownKid {
            let cooldown = self.policy.unknown_kid_cooldown.as_secs();
            if let Some(set) = self.current.load().as_ref() {
                if now < set.fetched_at.saturating_add(cooldown) {
                    return Start::NotNow;
                }
            }
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("tower-jwt-auth needs a Tokio runtime to fetch keys");
            return Start::NotNow;
        };
        let (tx, rx) = watch::channel(None);
        state.inflight = Some(rx.clone());
        self.refreshing.store(true, Ordering::Relaxed);
        let me = Arc::clone(self);
        runtime.spawn(async move {
            let outcome = me.fetch_and_store().await;
            let _ = tx.send(Some(outcome));
        });
        Start::Waiting(rx)
    }

    async fn fetch_and_store(&self) -> Outcome {
        let started = self.clock.now();
        let result = self.fetch(started).await;
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.inflight = None;
        self.refreshing.store(false, Ordering::Relaxed);
        match result {
            Ok(set) => {
                state.failures = 0;
                state.last_error = None;
                self.next_attempt_at.store(0, Ordering::Relaxed);
                if self
                    .current
                    .load()
                    .as_ref()
                    .is_some_and(|old| old.loses_keys_in(&set))
                {
                    self.removal_epoch.fetch_add(1, Ordering::AcqRel);
                }
                self.current.store(Some(Arc::clone(&set)));
                Ok(set)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                state.last_error = Some(e.clone());
                let backoff = (1u64 << (state.failures - 1).min(16))
                    .min(self.policy.max_backoff.as_secs().max(1));
                self.next_attempt_at
                    .store(self.clock.now().saturating_add(backoff), Ordering::Relaxed);
                let serving_stale = self.current.load().is_some();
                if e.is_config() {
                    tracing::error!(error = %e, failures = state.failures, retry_in_secs = backoff, serving_stale, "JWK set refresh failed: the configuration does not match the provider");
                } else {
                    tracing::warn!(error = %e, cause = ?e.kind(), failures = state.failures, retry_in_secs = backoff, serving_stale, "JWK set refresh failed");
                }
                Err(e)
            }
        }
    }

    async fn fetch(&self, now: u64) -> Result<Arc<KeySet>, KeySourceError> {
        let url = match &self.origin {
            Origin::JwksUri(url) => url.clone(),
            Origin::Discovery { issuer, issuer_url } => match self.jwks_uri.get() {
                Some(url) => url.clone(),
                None => {
                    let url = discovery::discover(&self.fetcher, issuer, issuer_url).await?;
                    self.jwks_uri.get_or_init(|| url).clone()
                }
            },
            Origin::Fixed => {
                return Err(KeySourceError::new(
                    KeySourceErrorKind::Other,
                    "keys are fixed by configuration",
                ))
            }
        };
        let doc = self.fetcher.get(&url).await?;
        let invalid = |why: String| KeySourceError::new(KeySourceErrorKind::InvalidDocument, why);
        let (keys, skipped) =
            jwk::parse_set(&doc.body, self.allowed).map_err(|e| invalid(format!("{url}: {e}")))?;
        for s in &skipped {
            tracing::warn!(kid = s.kid.as_deref().unwrap_or("(none)"), reason = %s.reason, "JWK skipped");
        }
        if keys.is_empty() {
            return Err(invalid(format!("{url}: the JWK set has no usable key")));
        }
        let p = &self.policy;
        let ttl = doc
            .max_age
            .map_or(p.ttl_default, Duration::from_secs)
            .clamp(p.ttl_floor, p.ttl_ceiling.max(p.ttl_floor));
        tracing::info!(jwks_uri = %url, keys = keys.len(), skipped = skipped.len(), ttl_secs = ttl.as_secs(), "JWK set loaded");
        Ok(Arc::new(KeySet::new(keys, now, ttl, p.max_stale)))
    }
}

fn abandoned() -> KeySourceError {
    KeySourceError::new(KeySourceErrorKind::Other, "the key refresh was abandoned")
}

async fn wait(mut rx: watch::Receiver<Option<Outcome>>) -> Option<Outcome> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|v| v.clone())
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("origin", &self.origin)
            .field("keys", &self.current.load().as_ref().map(|s| s.len()))
            .finish_non_exhaustive()
    }
}
