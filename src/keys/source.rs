//! The key-set cache: a lock-free snapshot for the hot path, and refreshes for everything else
//! (first load, refresh-ahead, a set past its lifetime, an unknown `kid`), each run in tasks of
//! its own so that a request that gives up waiting never cancels the fetch others wait for.
//!
//! One refresh at a time, shared by every request that needs it. A refresh makes one attempt;
//! when someone needs its result and the attempt hangs, a second and a third go out beside it
//! a second apart, each bounded by a short timeout learnt from the provider's usual answer
//! time. The first answer wins.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use arc_swap::{ArcSwapOption, Guard};
use reqwest::Url;
use tokio::sync::watch;

use super::persist::CacheFile;
use super::refresh::{ms, Absent, Allowance, HEDGE_AFTER};
use super::{unavailable, JwksStore, KeySet};
use crate::algorithm::AlgorithmSet;
use crate::clock::Clock;
use crate::metrics;
use crate::outbound::Fetcher;
use crate::reject::{AuthError, KeySourceError, KeySourceErrorKind};

mod rounds;

/// Where keys come from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// OpenID Connect discovery from the issuer.
    Discovery { issuer: String, issuer_url: Url },
    /// A JWK set URL given in configuration.
    JwksUri(Url),
    /// Keys given in configuration; never refreshed.
    Fixed,
    /// Each key alone, as PEM, at this URL template with `{kid}` replaced (AWS load
    /// balancers): fetched when a token names a `kid` the set lacks, kept for good (a `kid`
    /// names one key forever).
    PerKid(String),
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
    pub(crate) unknown_kid_wait: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl_floor: Duration::from_secs(5 * 60),
            ttl_ceiling: Duration::from_secs(24 * 3600),
            ttl_default: Duration::from_secs(15 * 60),
            max_stale: Duration::from_secs(24 * 3600),
            unknown_kid_cooldown: Duration::from_secs(1),
            wait_budget: Duration::from_secs(5),
            unknown_kid_wait: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// What every key source of one configuration shares: the HTTP client, the store of fetched
/// key sets, the clock and the timings.
#[derive(Clone)]
pub(crate) struct Env {
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) store: Arc<JwksStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: CachePolicy,
}

/// Why a refresh is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// No usable set: the caller waits (the key wait budget).
    Missing,
    /// The set is due for refresh-ahead; nobody waits.
    Routine,
    /// The set is past its lifetime and serves stale; nobody waits, but the refresh is needed.
    Expired,
    /// A token names a `kid` (or, without one, an algorithm) the set lacks: the caller waits
    /// briefly (the unknown-`kid` wait).
    UnknownKid(Option<Box<str>>),
}

impl Why {
    /// Someone needs this refresh: retry soon after a failure, and hedge a hanging attempt.
    fn needed(&self) -> bool {
        !matches!(self, Why::Routine)
    }
}

type Outcome = Result<Arc<KeySet>, KeySourceError>;

/// Until when a set needs no look (neither a refresh nor a lifetime check), and its fetch time.
fn quiet(set: &KeySet) -> (u64, u64) {
    (set.refresh_at.min(set.usable_until), set.fetched_at_ms())
}

/// The key set of one issuer.
pub(crate) struct KeySource {
    origin: Origin,
    /// The issuer these keys belong to (the metrics label).
    issuer: Arc<str>,
    age: metrics::AgeGauge,
    fetcher: Arc<Fetcher>,
    store: Arc<JwksStore>,
    clock: Arc<dyn Clock>,
    policy: CachePolicy,
    allowed: AlgorithmSet,
    file: Option<CacheFile>,
    current: ArcSwapOption<KeySet>,
    /// The current set's `min(refresh_at, usable_until)` and `fetched_at_ms`, published after
    /// it: before that time a cache hit needs nothing of the set but to know it still stands.
    quiet_until: AtomicU64,
    fetched_at_ms: AtomicU64,
    /// Whether a refresh is out (for the hot path, which must not lock).
    refreshing: AtomicBool,
    /// When the newest attempt went out (milliseconds), for hedging from the hot path.
    last_attempt_ms: AtomicU64,
    /// No routine refresh starts before this (milliseconds): backoff after failures.
    next_routine_ms: AtomicU64,
    /// No needed refresh starts before this (milliseconds): a short pause after a failure.
    next_needed_ms: AtomicU64,
    /// Bumped whenever a refresh drops a key: verdicts reached before then no longer count.
    removal_epoch: AtomicU64,
    jwks_uri: OnceLock<Url>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    round: Option<Round>,
    rounds: u64,
    failures: u32,
    last_error: Option<KeySourceError>,
    /// How long the last successful fetch took, in milliseconds.
    latency_ms: Option<u64>,
    allowance: Allowance,
    absent: Absent,
    /// [`Origin::PerKid`]: the `kid`s tokens asked for that the set lacks (a few at most),
    /// and the PEM documents fetched so far.
    wanted: Vec<Box<str>>,
    fetched_pems: Vec<(Box<str>, String)>,
}

/// One refresh: its attempts, and the channel its waiters listen on.
struct Round {
    id: u64,
    tx: watch::Sender<Option<Outcome>>,
    in_flight: u32,
    last_attempt_ms: u64,
    /// An unknown `kid` started or joined it: its result feeds the refetch allowance.
    for_unknown_kid: bool,
}

enum Start {
    Waiting(watch::Receiver<Option<Outcome>>),
    NotNow,
}

impl KeySource {
    pub(crate) fn new(
        origin: Origin,
        issuer: Arc<str>,
        env: Env,
        allowed: AlgorithmSet,
        fixed: Option<KeySet>,
        file: Option<CacheFile>,
    ) -> Self {
        let Env {
            fetcher,
            store,
            clock,
            policy,
        } = env;
        let restored = fixed.or_else(|| {
            file.as_ref()
                .and_then(|f| f.read(allowed, policy.max_stale, clock.now()))
        });
        let (quiet_until, fetched_at_ms) = restored.as_ref().map_or((0, 0), quiet);
        Self {
            origin,
            age: metrics::AgeGauge::new(&issuer),
            issuer,
            fetcher,
            store,
            clock,
            policy,
            allowed,
            file,
            current: ArcSwapOption::new(restored.map(Arc::new)),
            quiet_until: AtomicU64::new(quiet_until),
            fetched_at_ms: AtomicU64::new(fetched_at_ms),
            refreshing: AtomicBool::new(false),
            last_attempt_ms: AtomicU64::new(0),
            next_routine_ms: AtomicU64::new(0),
            next_needed_ms: AtomicU64::new(0),
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a verdict reached with this source's keys may still stand at `now`: the same
    /// answer as [`usable`](Self::usable), and the same refreshes started, but before the
    /// current set is due for a refresh it reads two atomics instead of the set.
    pub(crate) fn stands(self: &Arc<Self>, now: u64) -> bool {
        if now < self.quiet_until.load(Ordering::Acquire) {
            self.record_age(now, self.fetched_at_ms.load(Ordering::Relaxed));
            return true;
        }
        self.usable(now).is_some()
    }

    /// Sets the key-set age gauge: `now` (seconds) against a fetch time in milliseconds.
    fn record_age(&self, now: u64, fetched_at_ms: u64) {
        self.age
            .set(now.saturating_mul(1000).saturating_sub(fetched_at_ms));
    }

    /// The current set, if it may still be used at `now`. Lock-free; starts a background
    /// refresh when the set is due (refresh-ahead) or past its lifetime.
    pub(crate) fn usable(self: &Arc<Self>, now: u64) -> Option<Guard<Option<Arc<KeySet>>>> {
        let guard = self.current.load();
        let set = guard.as_ref()?;
        if now >= set.usable_until {
            return None;
        }
        self.record_age(now, set.fetched_at_ms());
        if now >= set.refresh_at {
            let expired = now >= set.expires_at;
            let now_ms = self.clock.now_millis();
            let due = if self.refreshing.load(Ordering::Relaxed) {
                // A set past its lifetime is needed: a hanging attempt gets company.
                expired
                    && now_ms
                        >= self
                            .last_attempt_ms
                            .load(Ordering::Relaxed)
                            .saturating_add(ms(HEDGE_AFTER))
            } else if expired {
                now_ms >= self.next_needed_ms.load(Ordering::Relaxed)
            } else {
                now_ms >= self.next_routine_ms.load(Ordering::Relaxed)
            };
            if due {
                let _ = self.start(if expired {
                    &Why::Expired
                } else {
                    &Why::Routine
                });
            }
        }
        Some(guard)
    }

    /// A usable key set, refreshing first if `why` calls for it and the allowance and backoff
    /// permit. Waits at most the wait budget for `why`.
    pub(crate) async fn obtain(self: &Arc<Self>, why: Why) -> Result<Arc<KeySet>, AuthError> {
        let now = self.clock.now();
        if let Why::UnknownKid(Some(kid)) = &why {
            if self.lock().absent.contains(kid) {
                // Looked for already, and not found in this set: no new fetch, no wait.
                metrics::refetch_refused(&self.issuer);
                return self.fallback(now, self.not_now(&why));
            }
        }
        let budget = match why {
            Why::UnknownKid(_) => self.policy.unknown_kid_wait,
            _ => self.policy.wait_budget,
        };
        if let (Origin::PerKid(_), Why::UnknownKid(Some(kid))) = (&self.origin, &why) {
            let mut state = self.lock();
            if !state.wanted.iter().any(|w| w == kid) && state.wanted.len() < MAX_WANTED {
                state.wanted.push(kid.clone());
            }
        }
        let Start::Waiting(rx) = self.start(&why) else {
            return self.fallback(now, self.not_now(&why));
        };
        let outcome = match tokio::time::timeout(budget, wait(rx)).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Err(abandoned()),
            Err(_) => Err(KeySourceError::new(
                KeySourceErrorKind::Timeout,
                format!("keys did not arrive within the wait budget of {budget:?}"),
            )),
        };
        match outcome {
            Ok(set) => {
                if let Why::UnknownKid(Some(kid)) = &why {
                    if !set.has_kid(kid) {
                        self.lock().absent.insert(kid);
                    }
                }
                Ok(set)
            }
            Err(e) => self.fallback(now, e),
        }
    }

    /// Loads keys now and reports the outcome, without a wait budget (each attempt is bounded
    /// by its timeouts).
    pub(crate) async fn load_now(self: &Arc<Self>) -> Result<Arc<KeySet>, AuthError> {
        let now = self.clock.now();
        if let Some(guard) = self.usable(now) {
            if let Some(set) = guard.as_ref() {
                return Ok(Arc::clone(set));
            }
        }
        match self.start(&Why::Missing) {
            Start::Waiting(rx) => match wait(rx).await {
                Some(Ok(set)) => Ok(set),
                Some(Err(e)) => self.fallback(now, e),
                None => self.fallback(now, abandoned()),
            },
            Start::NotNow => self.fallback(now, self.not_now(&Why::Missing)),
        }
    }
    /// The current set if still usable, else 503 (500 for a configuration error).
    fn fallback(&self, now: u64, why: KeySourceError) -> Result<Arc<KeySet>, AuthError> {
        match self.current.load_full() {
            Some(set) if now < set.usable_until => Ok(set),
            _ => {
                let next = self.next_needed_ms.load(Ordering::Relaxed);
                let wait_ms = next.saturating_sub(self.clock.now_millis());
                Err(unavailable(
                    Duration::from_secs(wait_ms.div_ceil(1000).max(1)),
                    why,
                ))
            }
        }
    }
}

/// The most `kid`s one per-kid refresh looks for.
pub(super) const MAX_WANTED: usize = 4;

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
